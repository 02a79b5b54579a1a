"""docker-compose.yml checked statically (no Docker engine on these machines)."""

from pathlib import Path

import yaml

from pipeline import configs

ROOT = Path(__file__).resolve().parent.parent


def test_serving_service_matches_config_and_tensorflow_version():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    config = configs.load(ROOT / "config.json", environ={})
    serving = compose["services"]["serving"]
    assert serving["image"] == "tensorflow/serving:2.16.1"  # the project's TensorFlow is 2.16
    assert serving["environment"]["MODEL_NAME"] == config.serving.model_name
    assert f"127.0.0.1:{config.serving.grpc_port}:8500" in serving["ports"]
    assert f"127.0.0.1:{config.serving.rest_port}:8501" in serving["ports"]
    host_dir, container_dir = serving["volumes"][0].split(":")[:2]
    assert (ROOT / host_dir).resolve() == config.serving.model_dir
    assert container_dir == serving["environment"]["MODEL_BASE_PATH"]
    assert serving["healthcheck"]["test"]
