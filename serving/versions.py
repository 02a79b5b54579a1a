"""Model versions: the one being served, its signatures, and hot reload of newer ones.

Like TensorFlow Serving: the highest version under the base path is served, a newer one is loaded
without a restart, and a version that fails to load is never served (the old one stays).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2

import signatures
from models import pushed_models
from serving.errors import MAX_BATCH, ServingError, invalid

LOG = logging.getLogger("model-server")


class VersionState(enum.IntEnum):
    """TensorFlow Serving's ModelVersionStatus.State values that this server reports."""
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
        if signatures.SERVING_DEFAULT in self.signatures:  # trace and initialise tables before taking traffic
            self.signature("")({signatures.QUESTION_INPUT: np.array([b"warm up"], dtype=object)})

    def signature(self, name: str) -> Signature:
        """The named signature (serving_default when empty); INVALID_ARGUMENT names the ones there are."""
        name = name or signatures.SERVING_DEFAULT
        try:
            return self.signatures[name]
        except KeyError:
            raise invalid(f"Serving signature name: \"{name}\" not found in signature def "
                          f"(available: {sorted(self.signatures)})") from None


class ModelManager:
    """Serves the highest loadable version under the base path and watches for newer ones."""

    def __init__(self, model_name: str, base_path: Path, poll_seconds: float):
        self.model_name = model_name
        self.base_path = base_path
        self.poll_seconds = poll_seconds
        self.current: ServedModel | None = None
        self.failed: dict[int, str] = {}  # version -> load error; retried only when its saved_model.pb changes
        self._failed_stamp: dict[int, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="version-watcher", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _stamp(self, version: int) -> tuple[int, int]:
        stat = (self.base_path / str(version) / "saved_model.pb").stat()
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Load the newest version not yet tried; on failure keep what is served.

        A version that failed is tried again once its saved_model.pb changes (e.g. a copy that was
        caught half-way has completed), as TensorFlow Serving retries failed loads.
        """
        versions = pushed_models.list_versions(self.base_path)
        for version in [v for v in self.failed if v in versions and self._stamp(v) != self._failed_stamp.get(v)]:
            del self.failed[version]
        candidates = [v for v in versions if v not in self.failed]
        newest = candidates[-1] if candidates else None
        if newest is None or (self.current and newest <= self.current.version):
            return
        LOG.info("loading %s version %d", self.model_name, newest)
        try:
            served = ServedModel(newest, self.base_path / str(newest))
        except Exception as exc:  # noqa: BLE001 - any load failure must leave the old version serving
            self.failed[newest] = f"{type(exc).__name__}: {exc}"
            self._failed_stamp[newest] = self._stamp(newest)
            LOG.error("version %d failed to load, still serving %s: %s", newest,
                      self.current.version if self.current else "nothing", exc)
            return
        self.current = served  # requests already holding the old version finish on it
        LOG.info("serving %s version %d", self.model_name, newest)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except OSError as exc:  # the folder vanished or changed mid-scan; keep serving, look again next time
                LOG.warning("could not scan %s: %s", self.base_path, exc)

    def get(self, name: str, version: int | None = None) -> ServedModel:
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})")
        current = self.current
        if current is None:  # TensorFlow Serving's answer too; the message adds why
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name}): no version "
                                                          f"is loaded (base path {self.base_path}; run the pipeline)")
        if version is not None and version != current.version:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({name}, {version})")
        return current

    def status(self, name: str, version: int | None = None) -> list[VersionStatus]:
        """TensorFlow Serving's model_version_status entries: the served version, then failed ones."""
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
        entries, current = [], self.current
        if current and version in (None, current.version):
            entries.append(VersionStatus(current.version, VersionState.AVAILABLE))
        for failed_version, error in sorted(self.failed.items()):
            if version in (None, failed_version):
                entries.append(VersionStatus(failed_version, VersionState.END, grpc.StatusCode.UNKNOWN, error))
        if not entries:
            which = f"version {version}" if version is not None else "any version"
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find {which} of model {name}")
        return entries
