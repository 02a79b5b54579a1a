"""The one place that reads config.json.

Every other module receives typed, validated values from here, never raw keys.
Validation uses the JSON schema beside this file, so an unknown key, a wrong
type or an out-of-range value stops the run with a message naming the key.

Environment overrides: ``PPQ_<SECTION>__<KEY>=<value>`` replaces one key, for
example ``PPQ_DATA__TOTAL_SAMPLE_SIZE=1000`` or
``PPQ_PIPELINE__BEAM_ARGS='["--direct_num_workers=2"]'``. The value is read as
JSON when it parses, else as a plain string. ``PPQ_CONFIG`` names another
config file. Relative paths in the file are taken relative to the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from common.files import is_http_url, is_url
from common.outputs import PREDICTIONS_FILE, SUMMARY_FILE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.json"
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.json"
ENV_PREFIX = "PPQ_"
CONFIG_PATH_ENV = "PPQ_CONFIG"
DEBUG_ENV = "PPQ_DEBUG"  # not a config key: the CLI prints tracebacks when it is set
VERBOSE_ENV = "PPQ_VERBOSE"  # not a config key: the pipeline command streams the libraries' output when it is set
MODEL_CONFIG_FILE = "models.config"  # TensorFlow Serving's model config file, beside the model folders


class ConfigError(ValueError):
    """config.json (or an override) is not valid; the message names the key."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    source: str
    text_column: str
    label_column: str
    total_sample_size: int
    split_fractions: dict[str, float]
    random_seed: int
    chunk_rows: int
    download_timeout_seconds: float
    prepared_dir: Path


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    sequence_length: int
    embedding_dim: int
    conv_filters: int
    hidden_units: int
    dropout: float
    epochs: int
    batch_size: int
    learning_rate: float
    wide_buckets: int  # wide (linear) branch over hashed words and word pairs; 0 turns it off
    wide_scale: float  # the wide branch's mean weight is multiplied by this before joining the deep logit
    pretrained_words: int  # whole words of the pretrained encoder's vocabulary given a distilled vector (pretrained.py)
    pretrained_dim: int  # PCA dimensions the distilled vectors keep (at most the encoder's 384)


@dataclasses.dataclass(frozen=True)
class EvaluatorConfig:
    min_auc: float
    min_binary_accuracy: float
    max_auc_drop: float


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    name: str
    root: Path
    metadata_path: Path
    output_dir: Path
    enable_cache: bool
    beam_args: list[str]

    @property
    def predictions_path(self) -> Path:
        return self.output_dir / PREDICTIONS_FILE

    @property
    def summary_path(self) -> Path:
        return self.output_dir / SUMMARY_FILE


@dataclasses.dataclass(frozen=True)
class BatchingConfig:
    """TensorFlow Serving's batching parameters, by its names (its batching_parameters_file)."""
    max_batch_size: int
    batch_timeout_micros: int
    max_enqueued_batches: int
    num_batch_threads: int


@dataclasses.dataclass(frozen=True)
class BatchScoringConfig:
    """The pipeline's batch-scoring step (and ``infer``): questions per call of the model."""
    batch_size: int


@dataclasses.dataclass(frozen=True)
class VersionsConfig:
    """Which versions are served and how a new one is rolled out (deploy.rollout writes the model config file)."""
    keep: int  # versions listed in the model config file: the labelled ones first, then the newest others
    rollout: str  # "direct": a new version becomes stable at once; "canary": it is pushed as canary beside stable
    stable_label: str
    canary_label: str
    previous_label: str  # the stable version before the last promote or direct push: the rollback target


@dataclasses.dataclass(frozen=True)
class RequestLogConfig:
    """The request log (TensorFlow Serving's logging_config names): a sampled share of Predict calls as PredictionLogs.

    ``filename_prefix`` is a path prefix; files are ``<prefix>-<time>-<n>.tfrecord``. ``client_side``: the client
    (the app) writes the records instead of the server, for the official TensorFlow Serving image, which cannot.
    """
    sampling_rate: float
    filename_prefix: Path
    max_file_bytes: int
    max_file_seconds: float  # a file open this long is closed at the writer's next batch (0.1 s), so readers see it
    max_total_bytes: int
    queue_size: int
    client_side: bool


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    model_name: str
    model_dir: Path
    host: str
    grpc_port: int
    rest_port: int
    poll_seconds: float
    request_timeout_seconds: float
    enable_batching: bool
    batching: BatchingConfig
    warmup_requests: int  # training-split questions in each pushed version's warm-up file, one request each
    max_num_load_retries: int  # TensorFlow Serving's flags, by its names and defaults
    load_retry_interval_micros: int
    check_max_load_seconds: float  # the serving check's bound on loading the candidate (warm-up included)
    versions: VersionsConfig
    logging: RequestLogConfig

    @property
    def model_base_path(self) -> Path:
        """Where versions live: ``<model_dir>/<model_name>/<version>/`` (TF Serving's layout)."""
        return self.model_dir / self.model_name

    @property
    def model_config_path(self) -> Path:
        """TensorFlow Serving's model config file, beside the model folder (``<model_dir>/models.config``)."""
        return self.model_dir / MODEL_CONFIG_FILE


@dataclasses.dataclass(frozen=True)
class AppConfig:
    host: str
    port: int


@dataclasses.dataclass(frozen=True)
class KubeflowConfig:
    """Where the compiled pipeline runs: the image and the cluster's storage (not this machine's).

    ``data_root`` is the storage folder holding the raw CSV (data.source's file name); ``package_file`` is
    the pipeline spec YAML for Kubeflow Pipelines, ``output_file`` the PipelineJob JSON for Vertex AI.
    """
    image: str
    pipeline_root: str
    data_root: str
    serving_dir: str
    package_file: Path
    output_file: Path

    def raw_data_uri(self, source: str) -> str:
        """The raw CSV as the cluster reads it: an http(s) source as is, a local file under data_root."""
        if is_http_url(source):
            return source
        return f"{self.data_root.rstrip('/')}/{source.rstrip('/').rsplit('/', 1)[-1]}"

    @property
    def request_log_dir(self) -> str:
        """Where the cluster keeps the request log: the app pod's sidecar copies it here, the monitoring job reads it."""
        return f"{self.data_root.rstrip('/')}/request_log"


@dataclasses.dataclass(frozen=True)
class KubernetesConfig:
    """TensorFlow Serving and the app on Kubernetes (manifests rendered by ./run.sh render-kubernetes).

    ``log_sync_image`` runs the app pod's sidecar that copies closed request-log files to
    kubeflow.request_log_dir (the Google Cloud CLI's ``gsutil rsync``).
    """
    serving_image: str
    serving_replicas: int
    serving_max_replicas: int
    target_cpu_utilization: int
    serving_resources: dict[str, dict[str, str]]
    app_replicas: int
    app_resources: dict[str, dict[str, str]]
    manifests_dir: Path
    log_sync_image: str


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    """Skew and drift checks on the request log (``./run.sh monitor``): the window and TFDV's thresholds.

    A window is the last ``window_records`` logged requests, or those of the last ``window_minutes`` when that is
    above 0. ``*_linf``: L-infinity distance for categorical features; ``*_js``: Jensen-Shannon divergence for
    numeric ones.
    """
    window_records: int
    window_minutes: float
    skew_linf: float
    drift_linf: float
    skew_js: float
    drift_js: float
    output_dir: Path


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataConfig
    model: ModelConfig
    evaluator: EvaluatorConfig
    pipeline: PipelineConfig
    batch_scoring: BatchScoringConfig
    serving: ServingConfig
    app: AppConfig
    kubeflow: KubeflowConfig
    kubernetes: KubernetesConfig
    monitoring: MonitoringConfig
    path: Path


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "evaluator": EvaluatorConfig,
             "pipeline": PipelineConfig, "batch_scoring": BatchScoringConfig, "serving": ServingConfig, "app": AppConfig,
             "kubeflow": KubeflowConfig, "kubernetes": KubernetesConfig, "monitoring": MonitoringConfig}
_PATH_KEYS = {("data", "prepared_dir"), ("pipeline", "root"), ("pipeline", "metadata_path"),
              ("pipeline", "output_dir"), ("serving", "model_dir"), ("kubeflow", "package_file"),
              ("kubeflow", "output_file"), ("kubernetes", "manifests_dir"), ("monitoring", "output_dir")}


def _key_name(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in (CONFIG_PATH_ENV, DEBUG_ENV, VERBOSE_ENV):
            continue
        section, sep, key = name[len(ENV_PREFIX):].lower().partition("__")
        if not sep or section not in raw or not isinstance(raw[section], dict) or key not in raw[section]:
            raise ConfigError(f"environment variable {name} names no config key (expected PPQ_<SECTION>__<KEY>, "
                              f"for example PPQ_DATA__TOTAL_SAMPLE_SIZE)")
        try:
            raw[section][key] = json.loads(value)
        except json.JSONDecodeError:
            raw[section][key] = value


def _validate(raw: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for error in errors:
            key = _key_name(error.absolute_path)
            if error.validator == "additionalProperties":
                known = ", ".join(sorted(error.schema.get("properties", {})))
                lines.append(f"{key}: {error.message} (known keys: {known})")
            else:
                lines.append(f"{key}: {error.message}")
        raise ConfigError("invalid config: " + "; ".join(lines))
    fractions = raw["data"]["split_fractions"]
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(f"data.split_fractions: must add up to 1, got {sum(fractions.values()):g}")
    if raw["serving"]["grpc_port"] == raw["serving"]["rest_port"]:
        raise ConfigError("serving.rest_port: must differ from serving.grpc_port")
    versions = raw["serving"]["versions"]
    if versions["rollout"] == "canary" and versions["keep"] < 2:
        raise ConfigError("serving.versions.keep: must be at least 2 with rollout \"canary\" (stable and canary)")
    if len({versions["stable_label"], versions["canary_label"], versions["previous_label"]}) != 3:
        raise ConfigError("serving.versions: stable_label, canary_label and previous_label must differ")
    if raw["kubernetes"]["serving_max_replicas"] < raw["kubernetes"]["serving_replicas"]:
        raise ConfigError("kubernetes.serving_max_replicas: must be at least kubernetes.serving_replicas")
    if raw["app"]["port"] in (raw["serving"]["grpc_port"], raw["serving"]["rest_port"]):
        raise ConfigError("app.port: collides with a model-server port (serving.grpc_port / serving.rest_port)")


def _with_python_ints(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema counts 1.0 as an integer; the record holds 1, so ``epochs=1.0`` trains one epoch, not a TypeError."""
    integer_fields = {field.name for field in dataclasses.fields(cls) if field.type == "int"}
    return {key: int(value) if key in integer_fields else value for key, value in values.items()}


def from_dict(raw: dict[str, Any], base_dir: Path = PROJECT_ROOT, environ: Mapping[str, str] | None = None,
              path: Path | None = None) -> Config:
    """Validate a config mapping (after env overrides) and build the typed Config."""
    raw = json.loads(json.dumps(raw))  # deep copy; overrides never touch the caller's dict
    _apply_env_overrides(raw, os.environ if environ is None else environ)
    _validate(raw)
    sections = {}
    for section, cls in _SECTIONS.items():
        values = dict(raw[section])
        for sec, key in _PATH_KEYS:
            if sec == section:
                values[key] = (base_dir / values[key]).resolve()
        if section == "data" and not is_url(values["source"]):
            values["source"] = str((base_dir / values["source"]).resolve())
        if section == "serving":
            values["batching"] = BatchingConfig(**values["batching"])
            values["versions"] = VersionsConfig(**_with_python_ints(VersionsConfig, values["versions"]))
            log = dict(values["logging"], filename_prefix=(base_dir / values["logging"]["filename_prefix"]).resolve())
            values["logging"] = RequestLogConfig(**_with_python_ints(RequestLogConfig, log))
        sections[section] = cls(**_with_python_ints(cls, values))
    return Config(path=path or base_dir / "config.json", **sections)


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load, override from the environment, and validate a config file."""
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH).resolve()
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {config_path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{config_path} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a JSON object")
    return from_dict(raw, base_dir=config_path.parent, environ=environ, path=config_path)
