"""Model versions: the ones being served, their signatures and labels, and hot reload.

Like TensorFlow Serving: without a model config file the highest version under the base path is
served; with one (serving.model_config), the versions its policy names, with its version labels. A new
version is loaded without a restart and replays its warm-up records (serving.warmup) before it is
AVAILABLE; a load that fails is tried again ``max_num_load_retries`` times, ``load_retry_interval``
apart, and a version that never loads is never served (what was served stays).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2

import signatures
from models import layout, pushed_models
from serving import model_config, warmup
from serving.errors import MAX_BATCH, ServingError, invalid

LOG = logging.getLogger("model-server")


class VersionState(enum.IntEnum):
    """TensorFlow Serving's ModelVersionStatus.State values that this server reports."""
    LOADING = get_model_status_pb2.ModelVersionStatus.LOADING
    AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    END = get_model_status_pb2.ModelVersionStatus.END


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """One entry of GetModelStatus: a version, its state, and why it failed if it did."""
    version: int
    state: VersionState
    error_code: grpc.StatusCode = grpc.StatusCode.OK
    error_message: str = ""


@dataclasses.dataclass(frozen=True)
class Signature:
    """One signature of a loaded version: its concrete function and what it takes."""
    name: str
    function: Callable[..., dict[str, tf.Tensor]]
    input_specs: dict[str, tf.TensorSpec]
    output_dtypes: dict[str, np.dtype]

    def check(self, inputs: dict[str, np.ndarray]) -> int:
        """Refuse inputs the function cannot take; the number of rows (the shared first dimension)."""
        missing, unknown = sorted(set(self.input_specs) - set(inputs)), sorted(set(inputs) - set(self.input_specs))
        if missing or unknown:
            raise invalid(f"signature {self.name!r} takes inputs {sorted(self.input_specs)}; "
                          f"missing {missing}, unexpected {unknown}")
        rows = set()
        for key, value in inputs.items():
            spec = self.input_specs[key]
            if spec.dtype == tf.string and value.dtype.kind not in "OSU":
                raise invalid(f"input {key!r} must be DT_STRING, got {value.dtype}")
            if spec.dtype != tf.string and value.dtype.kind in "OSU":
                raise invalid(f"input {key!r} must be {spec.dtype.name}, got strings")
            if not spec.shape.is_compatible_with(value.shape) or value.ndim == 0:
                raise invalid(f"input {key!r} must have shape {spec.shape}, got {list(value.shape)}")
            if value.shape[0] > MAX_BATCH:
                raise invalid(f"batch of {value.shape[0]} is over the limit of {MAX_BATCH}")
            rows.add(value.shape[0])
        if len(rows) != 1:
            raise invalid(f"every input must have the same first dimension (the batch), got {sorted(rows)}")
        return rows.pop()

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call of the concrete function on tensors built once from the (batched) inputs."""
        tensors = {key: tf.constant(value, dtype=self.input_specs[key].dtype) for key, value in inputs.items()}
        try:
            outputs = self.function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise invalid(f"the model rejected the input: {exc}") from exc
        return {key: value.numpy() for key, value in outputs.items()}

    def empty_outputs(self) -> dict[str, np.ndarray]:
        """An empty batch gets empty outputs (as TensorFlow Serving answers), without calling the model."""
        return {key: np.zeros((0,), dtype=dtype) for key, dtype in self.output_dtypes.items()}


def _signature(name: str, function: Callable, signature_def: meta_graph_pb2.SignatureDef) -> Signature:
    outputs = {key: object if info.dtype == tf.string.as_datatype_enum else tf.as_dtype(info.dtype).as_numpy_dtype
               for key, info in signature_def.outputs.items()}
    return Signature(name, function, dict(function.structured_input_signature[1]), outputs)


class ServedModel:
    """One loaded version: its signatures (looked up once, at load) and SignatureDefs for metadata."""

    def __init__(self, version: int, path: Path):
        self.version = version
        saved_model = pushed_models.LoadedModel.load(path.parent, version).saved_model
        meta_graph = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes()).meta_graphs[0]
        self.signature_defs = {k: v for k, v in meta_graph.signature_def.items() if k != "__saved_model_init_op"}
        self.signatures = {name: _signature(name, saved_model.signatures[name], self.signature_defs[name])
                           for name in self.signature_defs}
        self._saved_model = saved_model  # keeps the functions' variables alive
        self.warmup(path)

    def warmup(self, path: Path) -> None:
        """Replay the version's warm-up records, as TensorFlow Serving does before AVAILABLE; any failure fails the load."""
        for index, request in enumerate(warmup.read(path)):
            try:
                signature, inputs = self.signature(request.model_spec.signature_name), warmup.request_inputs(request)
                signature.check(inputs)
                signature(inputs)
            except ServingError as exc:
                raise warmup.WarmupError(f"warm-up request {index + 1} failed: {exc}") from exc

    def signature(self, name: str) -> Signature:
        """The named signature (serving_default when empty); INVALID_ARGUMENT names the ones there are."""
        name = name or signatures.SERVING_DEFAULT
        try:
            return self.signatures[name]
        except KeyError:
            raise invalid(f"Serving signature name: \"{name}\" not found in signature def "
                          f"(available: {sorted(self.signatures)})") from None


@dataclasses.dataclass(frozen=True)
class LoadRetries:
    """TensorFlow Serving's --max_num_load_retries and --load_retry_interval_micros (its defaults: 5, 60 s)."""
    max_retries: int = 5
    interval_seconds: float = 60.0


TF_SERVING_RETRIES = LoadRetries()


@dataclasses.dataclass(frozen=True)
class _Served:
    """What requests see, swapped as a whole: the loaded versions and the labels naming them."""
    loaded: dict[int, ServedModel]
    labels: dict[str, int]


@dataclasses.dataclass(frozen=True)
class _Retry:
    failures: int
    next_try: float
    error: str


class ModelManager:
    """Serves the versions the policy names (the highest one without a model config file), and watches for changes."""

    def __init__(self, model_name: str, base_path: Path, poll_seconds: float, retries: LoadRetries = TF_SERVING_RETRIES,
                 model_config_file: Path | None = None, on_config_error: Callable[[str], None] | None = None):
        self.model_name = model_name
        self.base_path = base_path  # the model config file's base_path replaces it
        self.poll_seconds = poll_seconds
        self.retries = retries
        self.model_config_file = model_config_file
        self._on_config_error = on_config_error or (lambda message: None)
        self._config_stamp: tuple[int, int, int] | None = None
        self._entry: model_config.ModelEntry | None = None
        self._label_problem = ""
        self._served = _Served({}, {})
        self.failed: dict[int, str] = {}  # version -> load error, after the last retry (END, never tried again)
        self._retry: dict[int, _Retry] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="version-watcher", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def current(self) -> ServedModel | None:
        """The version a request without version or label gets: the highest loaded one (TensorFlow Serving's Latest)."""
        loaded = self._served.loaded
        return loaded[max(loaded)] if loaded else None

    @property
    def labels(self) -> dict[str, int]:
        return dict(self._served.labels)

    @property
    def loaded_versions(self) -> list[int]:
        return sorted(self._served.loaded)

    # ------------------------------------------------------------------ reload

    def _read_model_config(self) -> None:
        """Take a changed model config file; one that cannot be used leaves the previous one in force."""
        path = self.model_config_file
        if path is None:
            return
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        try:
            entry = model_config.read(path, self.model_name)
        except model_config.ModelConfigError as exc:
            message = f"model config file {path} not applied, keeping the previous one: {exc}"
            LOG.error("%s", message)
            self._on_config_error(message)
            return
        self._entry, self.base_path = entry, entry.base_path
        LOG.info("model config file %s: policy %s, labels %s", path, entry.policy, entry.labels)

    def _try_load(self, version: int, now: float) -> ServedModel | None:
        retry = self._retry.get(version)
        if retry and now < retry.next_try:
            return None
        LOG.info("loading %s version %d", self.model_name, version)
        try:
            served = ServedModel(version, self.base_path / str(version))
        except Exception as exc:  # noqa: BLE001 - any load failure must leave what is served serving
            failures, error = (retry.failures if retry else 0) + 1, f"{type(exc).__name__}: {exc}"
            if failures > self.retries.max_retries:
                self._retry.pop(version, None)
                self.failed[version] = error
                LOG.error("version %d failed to load (%d tries), giving up: %s", version, failures, error)
            else:
                self._retry[version] = _Retry(failures, now + self.retries.interval_seconds, error)
                LOG.warning("version %d failed to load (try %d of %d), trying again in %g s: %s", version, failures,
                            self.retries.max_retries + 1, self.retries.interval_seconds, error)
            return None
        self._retry.pop(version, None)
        return served

    def _labels(self, loaded: dict[int, ServedModel]) -> dict[str, int]:
        """The file's labels, each applied once its version is loaded; until then it keeps its old version, if any.

        Label by label (TensorFlow Serving refuses the whole map), so a canary that cannot load never takes
        the stable label down with it. What is not applied yet is logged once.
        """
        wanted = self._entry.labels if self._entry else {}
        labels = {label: v for label, v in wanted.items() if v in loaded}
        missing = {label: v for label, v in wanted.items() if v not in loaded}
        for label in missing:
            if self._served.labels.get(label) in loaded:
                labels[label] = self._served.labels[label]
        problem = ", ".join(f"{label!r} names version {v}, which is not loaded" for label, v in sorted(missing.items()))
        if problem and problem != self._label_problem:
            LOG.warning("version labels not applied yet: %s", problem)
        self._label_problem = problem
        return labels

    def refresh(self) -> None:
        """Apply the model config file, load the versions the policy wants, then drop the ones it no longer does.

        Old versions go only once every wanted version is loaded or given up, and one is loaded, so a
        version being copied in (and retried) never leaves the model without a served version.
        """
        with self._lock:
            self._read_model_config()
            while self._refresh_once():  # a version given up on may let "latest" fall back to an older one
                pass

    def _refresh_once(self) -> bool:
        """One pass; True when a version was given up on in it (so the wanted set changed)."""
        on_disk = layout.list_versions(self.base_path)
        policy = self._entry.policy if self._entry else model_config.VersionPolicy()
        failed_before = len(self.failed)
        wanted = policy.choose([v for v in on_disk if v not in self.failed])  # "latest" skips failed versions
        loaded, now = dict(self._served.loaded), time.monotonic()
        for version in sorted(wanted - set(loaded), reverse=True):
            served = self._try_load(version, now)
            if served is not None:
                loaded[version] = served
                self._served = _Served(dict(loaded), self._served.labels)  # serve each as soon as it is ready
                LOG.info("serving %s version %d", self.model_name, version)
        if len(self.failed) > failed_before:
            return True
        labels = self._labels(loaded)
        if not (wanted - set(loaded)) and wanted & set(loaded):  # every wanted version is in: drop the others
            for version in set(loaded) - wanted - set(labels.values()):
                del loaded[version]
                LOG.info("unloaded %s version %d", self.model_name, version)
        self._served = _Served(loaded, labels)
        return False

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except OSError as exc:  # the folder vanished or changed mid-scan; keep serving, look again next time
                LOG.warning("could not scan %s: %s", self.base_path, exc)

    # ------------------------------------------------------------------ requests

    def get(self, name: str, version: int | None = None, label: str | None = None) -> ServedModel:
        """The version a request names (by number or label), else the highest loaded; TensorFlow Serving's errors."""
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})")
        served = self._served
        if label:
            if label not in served.labels:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {label}")
            version = served.labels[label]
        if version is not None:
            if version not in served.loaded:
                raise ServingError(grpc.StatusCode.NOT_FOUND,
                                   f"Servable not found for request: Specific({name}, {version})")
            return served.loaded[version]
        if not served.loaded:  # TensorFlow Serving's answer too; the message adds why
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name}): no version "
                                                          f"is loaded (base path {self.base_path}; run the pipeline)")
        return served.loaded[max(served.loaded)]

    def status(self, name: str, version: int | None = None) -> list[VersionStatus]:
        """TensorFlow Serving's model_version_status entries: loaded versions, ones being retried, failed ones."""
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
        entries = [VersionStatus(v, VersionState.AVAILABLE) for v in sorted(self._served.loaded)]
        entries += [VersionStatus(v, VersionState.LOADING, grpc.StatusCode.UNKNOWN, r.error)
                    for v, r in sorted(self._retry.items())]
        entries += [VersionStatus(v, VersionState.END, grpc.StatusCode.UNKNOWN, e) for v, e in sorted(self.failed.items())]
        entries = [e for e in entries if version in (None, e.version)]
        if not entries:
            which = f"version {version}" if version is not None else "any version"
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find {which} of model {name}")
        return entries
