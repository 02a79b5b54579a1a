"""The monitoring job compiled as its own Kubeflow pipeline, read back by the KFP SDK (tests/kfp_reader.py)."""

from __future__ import annotations

import json
import subprocess

from common import config as configs
from pipeline import monitoring_pipeline as kubeflow
from tests.helpers import ROOT, write_config
from tests.test_kubeflow import IMAGE, KFP_PYTHON, TFX_EXECUTOR_RUNNER, constant


def test_kfp_reads_the_monitoring_pipeline_with_its_resolvers_and_settings(tmp_path):
    config = configs.load(write_config(tmp_path, {"kubeflow": {
        "image": IMAGE, "package_file": str(tmp_path / "out" / "pipeline.yaml")}}), environ={})
    package = kubeflow.compile_monitoring(config)
    assert package == tmp_path / "out" / "pipeline-monitoring.yaml"
    result = subprocess.run([str(KFP_PYTHON), str(ROOT / "tests" / "kfp_reader.py"), str(package)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    read = json.loads(result.stdout)
    assert read["pipeline_name"] == f"{config.pipeline.name}-monitoring"
    tasks = read["tasks"]
    assert set(tasks) == {"latest_prepared_splits_resolver", "latest_pushed_model_resolver", kubeflow.MONITOR_ID}
    monitor = tasks[kubeflow.MONITOR_ID]
    assert set(monitor["dependencies"]) == {"latest_prepared_splits_resolver", "latest_pushed_model_resolver"}
    assert constant(monitor, "request_log_prefix") == (
        f"{config.kubeflow.data_root}/request_log/{config.serving.logging.filename_prefix.name}")
    settings = json.loads(constant(monitor, "settings"))
    assert settings["skew_linf"] == config.monitoring.skew_linf and settings["drift_js"] == config.monitoring.drift_js
    assert constant(monitor, "fail_on_alert") == "1"
    container = next(c for name, c in read["executors"].items() if kubeflow.MONITOR_ID in name)
    assert container["image"] == IMAGE and container["command"][:3] == TFX_EXECUTOR_RUNNER


def test_compose_and_kubernetes_apps_write_the_request_log_that_tf_serving_cannot(tmp_path):
    import yaml

    from deploy import manifests
    config = configs.load(write_config(tmp_path), environ={})
    container = manifests.app_deployment(config)["spec"]["template"]["spec"]["containers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["app"]
    for env in ({e["name"]: e["value"] for e in container["env"] if "value" in e}, compose["environment"]):
        app_config = configs.from_dict(json.loads((ROOT / "config.json").read_text()), environ=env).serving.logging
        assert app_config.client_side and app_config.sampling_rate == config.serving.logging.sampling_rate
    assert not compose["volumes"][0].endswith(":ro")  # the app writes the log and the corrections there
