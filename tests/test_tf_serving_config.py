"""The real TensorFlow Serving container batches and exports metrics as config.json says, like the local server."""

import json
import re

import yaml

from common import config as configs
from common.config import PROJECT_ROOT as ROOT
from deploy import tf_serving_config
from serving import metric_names


def test_committed_batching_and_monitoring_files_are_rendered_from_config_json():
    serving = configs.load(ROOT / "config.json", environ={}).serving
    for path, text in tf_serving_config.render(serving).items():
        assert path.read_text() == text, f"{path.name} is stale: run ./run.sh render-kubernetes"
    batching = dict(line.replace("{ value:", "").rstrip(" }").split() for line in
                    (ROOT / "deploy" / "tf_serving" / "batching_parameters.txt").read_text().splitlines())
    assert {k: int(v) for k, v in batching.items()} == {
        "max_batch_size": serving.batching.max_batch_size, "batch_timeout_micros": serving.batching.batch_timeout_micros,
        "max_enqueued_batches": serving.batching.max_enqueued_batches,
        "num_batch_threads": serving.batching.num_batch_threads}
    assert f'path: "{metric_names.PATH}"' in (ROOT / "deploy" / "tf_serving" / "monitoring.config").read_text()


def test_compose_runs_tensorflow_serving_with_those_files():
    """The compose command read as flags, checked against config.json itself (not the code that renders it)."""
    raw = json.loads((ROOT / "config.json").read_text())["serving"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    serving = compose["services"]["serving"]
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in serving["command"])
    assert flags["enable_batching"] == json.dumps(raw["enable_batching"])
    assert serving["environment"]["MODEL_NAME"] == raw["model_name"]
    mounted = {c["target"]: ROOT / compose["configs"][c["source"]]["file"] for c in serving["configs"]}
    batching_text = mounted[flags["batching_parameters_file"]].read_text()
    assert {name: int(value) for name, value in re.findall(r"(\w+) \{ value: (\d+) \}", batching_text)} == \
        raw["batching"]
    monitoring_text = mounted[flags["monitoring_config_file"]].read_text()
    assert "enable: true" in monitoring_text and 'path: "/monitoring/prometheus/metrics"' in monitoring_text
