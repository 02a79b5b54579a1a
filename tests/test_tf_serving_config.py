"""The real TensorFlow Serving container batches and exports metrics as config.json says, like the local server."""


import yaml

from common import config as configs
from common.config import PROJECT_ROOT as ROOT
from serving import metrics, tf_serving_config


def test_committed_batching_and_monitoring_files_are_rendered_from_config_json():
    serving = configs.load(ROOT / "config.json", environ={}).serving
    for path, text in tf_serving_config.render(serving).items():
        assert path.read_text() == text, f"{path.name} is stale: run python -m serving.tf_serving_config"
    batching = dict(line.replace("{ value:", "").rstrip(" }").split() for line in
                    tf_serving_config.BATCHING_FILE.read_text().splitlines())
    assert {k: int(v) for k, v in batching.items()} == {
        "max_batch_size": serving.batching.max_batch_size, "batch_timeout_micros": serving.batching.batch_timeout_micros,
        "max_enqueued_batches": serving.batching.max_enqueued_batches,
        "num_batch_threads": serving.batching.num_batch_threads}
    assert f'path: "{metrics.PATH}"' in tf_serving_config.MONITORING_FILE.read_text()


def test_compose_runs_tensorflow_serving_with_those_files():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    serving = compose["services"]["serving"]
    assert serving["command"] == tf_serving_config.model_server_flags(configs.load(ROOT / "config.json", environ={}).serving)
    mounted = {c["target"]: compose["configs"][c["source"]]["file"] for c in serving["configs"]}
    for path in (tf_serving_config.BATCHING_FILE, tf_serving_config.MONITORING_FILE):
        assert (ROOT / mounted[f"{tf_serving_config.CONTAINER_FOLDER}/{path.name}"]).resolve() == path
