"""Compose and Kubernetes run TensorFlow Serving over a model config file, polled, with load retries."""

from __future__ import annotations

import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from common import config as configs
from common.config import PROJECT_ROOT as ROOT
from deploy import manifests, tf_serving_config


def flags(args: list[str]) -> dict[str, str]:
    return dict(arg.lstrip("-").split("=", 1) for arg in args)


def test_kubernetes_passes_a_model_config_file_that_tf_servings_proto_parses():
    config = configs.load(ROOT / "config.json", environ={})
    found = manifests.manifests(config)
    container = found["serving-deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    args = flags(container["args"])
    mount = container["volumeMounts"][0]["mountPath"]
    text = found["serving-configmap.yaml"]["data"][args["model_config_file"].removeprefix(f"{mount}/")]
    parsed = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (entry,) = parsed.model_config_list.config
    assert (entry.name, entry.base_path) == (config.serving.model_name,
                                             f"{config.kubeflow.serving_dir}/{config.serving.model_name}")
    assert entry.model_version_policy.latest.num_versions == config.serving.versions.keep
    assert int(args["model_config_file_poll_wait_seconds"]) >= 1
    assert (int(args["max_num_load_retries"]), int(args["load_retry_interval_micros"])) == (
        config.serving.max_num_load_retries, config.serving.load_retry_interval_micros)
    committed = yaml.safe_load((config.kubernetes.manifests_dir / "serving-configmap.yaml").read_text())
    assert committed["data"] == found["serving-configmap.yaml"]["data"], "run ./run.sh render-kubernetes"


def test_compose_reads_the_model_config_file_where_the_pipeline_container_writes_it():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    serving = compose["services"]["serving"]
    args = flags(serving["command"])
    # The image's WORKDIR is /app; the pipeline writes <model_dir>/models.config there, into the outputs volume.
    config = configs.load(ROOT / "config.json", environ={})
    in_container = "/app/" + str(config.serving.model_config_path.relative_to(ROOT))
    assert args["model_config_file"] == tf_serving_config.COMPOSE_MODEL_CONFIG == in_container
    assert "outputs:/app/outputs:ro" in serving["volumes"]
    assert compose["services"]["pipeline"]["volumes"] == ["outputs:/app/outputs"]
    assert args["model_config_file_poll_wait_seconds"] == str(max(1, round(config.serving.poll_seconds)))
