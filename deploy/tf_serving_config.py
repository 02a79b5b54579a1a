"""The real TensorFlow Serving container's batching and monitoring files, rendered from config.json.

docker-compose.yml's ``serving`` service runs ``tensorflow_model_server`` with
``--enable_batching``, ``--batching_parameters_file`` and ``--monitoring_config_file`` pointing at
these files, so the container batches with the same parameters as the local server and exposes
Prometheus metrics at the same path. A test holds the committed files and config.json together.

./run.sh render-kubernetes writes them, with docker-compose.yml and the Kubernetes manifests.
"""

from __future__ import annotations

from pathlib import Path

from common import config as configs
from serving import metric_names

FOLDER = Path(__file__).resolve().parent / "tf_serving"
BATCHING_FILE = FOLDER / "batching_parameters.txt"
MONITORING_FILE = FOLDER / "monitoring.config"
CONTAINER_FOLDER = "/etc/tf_serving"  # where compose and Kubernetes mount them in the container
GRPC_PORT, REST_PORT = 8500, 8501  # fixed by the tensorflow/serving image's entrypoint
# The pipeline container writes the model config file into the outputs volume (deploy.rollout); the serving
# container mounts that volume at the same path, so the file's base_path holds in both.
COMPOSE_MODEL_CONFIG = "/app/outputs/serving/models.config"


def batching_parameters(batching: configs.BatchingConfig) -> str:
    """TensorFlow Serving's BatchingParameters text proto (each field is a wrapped value)."""
    fields = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
    return "".join(f"{field} {{ value: {getattr(batching, field)} }}\n" for field in fields)


def monitoring_config() -> str:
    """TensorFlow Serving's MonitoringConfig text proto: Prometheus at the local server's path."""
    return f'prometheus_config {{\n  enable: true\n  path: "{metric_names.PATH}"\n}}\n'


def model_server_flags(serving: configs.ServingConfig, model_config_file: str = COMPOSE_MODEL_CONFIG) -> list[str]:
    """The flags compose passes to tensorflow_model_server (after the image's own port and model flags).

    With ``--model_config_file`` the server serves the versions and labels that file names (deploy.rollout
    writes it), re-read every poll; load retries as the local server's."""
    return [f"--enable_batching={str(serving.enable_batching).lower()}",
            f"--batching_parameters_file={CONTAINER_FOLDER}/{BATCHING_FILE.name}",
            f"--monitoring_config_file={CONTAINER_FOLDER}/{MONITORING_FILE.name}",
            f"--model_config_file={model_config_file}",
            f"--model_config_file_poll_wait_seconds={max(1, round(serving.poll_seconds))}",
            f"--max_num_load_retries={serving.max_num_load_retries}",
            f"--load_retry_interval_micros={serving.load_retry_interval_micros}"]


def render(serving: configs.ServingConfig) -> dict[Path, str]:
    return {BATCHING_FILE: batching_parameters(serving.batching), MONITORING_FILE: monitoring_config()}

