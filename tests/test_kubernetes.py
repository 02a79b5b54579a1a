"""The Kubernetes manifests (deploy/kubernetes), checked offline: rendered from config.json, and valid
against the Kubernetes API schemas kubernetes-validate bundles (no cluster on these machines)."""

import copy
import fnmatch
import os
import signal
import subprocess

import kubernetes_validate
import pytest
import yaml

from common import config as configs
from deploy import manifests
from serving import metric_names
from tests.helpers import ROOT, wait_for

KUBERNETES_VERSION = "1.30.0"  # the oldest minor release GKE and EKS still offer as standard support


def config() -> configs.Config:
    return configs.load(ROOT / "config.json", environ={})


def resources() -> dict[str, dict]:
    """The checked-in files, parsed."""
    folder = config().kubernetes.manifests_dir
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))}


def test_checked_in_manifests_are_what_config_json_renders():
    """Edit config.json, run ./run.sh render-kubernetes, commit: this test fails until the files agree."""
    rendered = manifests.rendered_files(config())
    folder = config().kubernetes.manifests_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted(rendered)
    for name, text in rendered.items():
        assert (folder / name).read_text() == text, f"{name} differs from config.json: ./run.sh render-kubernetes"


def test_every_manifest_is_valid_against_the_kubernetes_api_schema():
    found = resources()
    kustomization = found.pop("kustomization.yaml")
    assert kustomization["resources"] == list(manifests.manifests(config()))
    assert {r["kind"] for r in found.values()} == {"ServiceAccount", "ConfigMap", "Deployment", "Service",
                                                    "HorizontalPodAutoscaler"}
    for name, resource in found.items():
        assert kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True), name


@pytest.mark.parametrize("break_it", [
    lambda d: d["spec"].update(replicas="two"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={}),
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="grpc"),
])
def test_the_schema_check_catches_a_broken_deployment(break_it):
    broken = copy.deepcopy(resources()["serving-deployment.yaml"])
    break_it(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_tensorflow_serving_replicas_probes_batching_monitoring_and_resources_follow_config():
    cfg, found = config(), resources()
    deployment = found["serving-deployment.yaml"]
    assert deployment["spec"]["replicas"] == cfg.kubernetes.serving_replicas >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == cfg.kubernetes.serving_image and container["image"].startswith("tensorflow/serving:")
    env = {e["name"]: e["value"] for e in container["env"]}
    # The image's entrypoint serves MODEL_BASE_PATH/MODEL_NAME: where the Kubeflow pipeline's Pusher writes.
    assert f"{env['MODEL_BASE_PATH']}/{env['MODEL_NAME']}" == f"{cfg.kubeflow.serving_dir}/{cfg.serving.model_name}"
    rest_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "rest")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": f"/v1/models/{cfg.serving.model_name}", "port": "rest"}
    assert rest_port == 8501
    assert container["resources"] == cfg.kubernetes.serving_resources
    args = dict(arg.lstrip("-").split("=", 1) for arg in container["args"])
    assert args["enable_batching"] == "true"
    config_map = found["serving-configmap.yaml"]
    assert pod["volumes"] == [{"name": "tfserving-config", "configMap": {"name": config_map["metadata"]["name"]}}]
    mount = container["volumeMounts"][0]["mountPath"]
    batching_file = config_map["data"][args["batching_parameters_file"].removeprefix(f"{mount}/")]
    assert parse_batching_parameters(batching_file) == vars(cfg.serving.batching)
    monitoring_file = config_map["data"][args["monitoring_config_file"].removeprefix(f"{mount}/")]
    assert f'path: "{metric_names.PATH}"' in monitoring_file and "enable: true" in monitoring_file


def parse_batching_parameters(text: str) -> dict[str, int]:
    """TF Serving's BatchingParameters text format, one ``name { value: N }`` per line."""
    parsed = {}
    for line in text.strip().splitlines():
        name, _, rest = line.partition(" { value: ")
        assert rest.endswith(" }"), line
        parsed[name] = int(rest.removesuffix(" }"))
    return parsed


def test_autoscaler_services_and_app_point_at_the_right_things():
    cfg, found = config(), resources()
    serving_name = found["serving-deployment.yaml"]["metadata"]["name"]
    hpa = found["serving-hpa.yaml"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": serving_name}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (cfg.kubernetes.serving_replicas,
                                                        cfg.kubernetes.serving_max_replicas)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == cfg.kubernetes.target_cpu_utilization
    service = found["serving-service.yaml"]
    assert service["metadata"]["name"] == serving_name
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"grpc": cfg.serving.grpc_port,
                                                                       "rest": cfg.serving.rest_port}
    serving_labels = found["serving-deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= serving_labels.items()
    app = found["app-deployment.yaml"]
    container, _ = app["spec"]["template"]["spec"]["containers"]
    assert container["image"] == cfg.kubeflow.image and container["args"] == ["app"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # The app reads its serving address through config.json's environment overrides.
    app_config = configs.from_dict(yaml.safe_load((ROOT / "config.json").read_text()), environ=env)
    assert (app_config.serving.host, app_config.serving.grpc_port) == (serving_name, cfg.serving.grpc_port)
    assert container["resources"] == cfg.kubernetes.app_resources
    assert container["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    app_service = found["app-service.yaml"]["spec"]
    assert app_service["ports"] == [{"name": "http", "port": cfg.app.port, "targetPort": "http"}]
    assert app_service["selector"].items() <= app["spec"]["template"]["metadata"]["labels"].items()


def test_the_app_logs_into_a_pod_volume_that_its_sidecar_copies_where_the_monitoring_job_reads():
    """TensorFlow Serving's image cannot log: the app's client-side log goes to a volume shared with the sidecar,
    which copies it to kubeflow.request_log_dir, the folder the compiled monitoring pipeline reads."""
    cfg = config()
    pod = resources()["app-deployment.yaml"]["spec"]["template"]["spec"]
    app, sidecar = pod["containers"]
    [volume] = pod["volumes"]
    assert volume == {"name": manifests.REQUEST_LOG_VOLUME, "emptyDir": {}}
    mount = {"name": volume["name"], "mountPath": manifests.APP_REQUEST_LOG_DIR}
    assert app["volumeMounts"] == [mount] and sidecar["volumeMounts"] == [mount]
    names = [e["name"] for e in app["env"]]
    assert app["env"][names.index("POD_NAME")]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert names.index("POD_NAME") < names.index("PPQ_SERVING__LOGGING")  # defined before it is expanded
    logging = configs.from_dict(yaml.safe_load((ROOT / "config.json").read_text()),
                                environ={e["name"]: e["value"] for e in app["env"] if "value" in e}).serving.logging
    assert logging.client_side and logging.filename_prefix.parent.as_posix() == manifests.APP_REQUEST_LOG_DIR
    # Each replica's files carry its pod's name and still match the prefix the monitoring job reads.
    pod_file = logging.filename_prefix.name.replace("$(POD_NAME)", "app-7d9f-x2") + "-20261130T120000-1-000001.tfrecord"
    assert fnmatch.fnmatch(pod_file, f"{cfg.serving.logging.filename_prefix.name}-*.tfrecord")
    assert "$(POD_NAME)" in logging.filename_prefix.name
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert sidecar["image"] == cfg.kubernetes.log_sync_image
    assert env["LOG_DIR"] == manifests.APP_REQUEST_LOG_DIR and env["DESTINATION"] == cfg.kubeflow.request_log_dir
    assert cfg.kubeflow.request_log_dir == cfg.kubeflow.data_root.rstrip("/") + "/request_log"


def test_the_sidecar_copies_every_period_and_once_more_on_sigterm(tmp_path):
    """The sidecar's own shell script, run with a stand-in gsutil that records its arguments."""
    sidecar = manifests.request_log_sync(config(), {})
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gsutil").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "gsutil").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **{e["name"]: e["value"] for e in sidecar["env"]},
           "EVERY": "1"}
    process = subprocess.Popen(sidecar["command"], env=env)
    wait_for(lambda: calls.exists() and len(calls.read_text().splitlines()) >= 2, "two periodic copies", 60,
             interval=0.1, alive=process)
    before = len(calls.read_text().splitlines())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    lines = calls.read_text().splitlines()
    assert before >= 2 and len(lines) == before + 1, lines
    expected = f"-m -q rsync -x .*\\.tmp$ {manifests.APP_REQUEST_LOG_DIR} {config().kubeflow.request_log_dir}"
    assert set(lines) == {expected}, lines


def test_render_kubernetes_command_writes_the_checked_in_manifests(tmp_path, capsys):
    """./run.sh render-kubernetes end to end, into a folder of its own: the files it writes are the committed ones."""
    from pipeline import cli
    from tests.helpers import write_config
    target = tmp_path / "manifests"
    path = write_config(tmp_path, {"kubernetes": {"manifests_dir": str(target)},  # compose maps outputs/ only
                                   "serving": {"model_dir": "outputs/serving"}})
    assert cli.main(["--config", str(path), "render-kubernetes"]) == 0
    assert f"Kubernetes manifests: {target} (kubectl apply -k {target})" in capsys.readouterr().out
    committed = config().kubernetes.manifests_dir
    written = {p.name: p.read_text() for p in sorted(target.iterdir())}
    assert written == {p.name: p.read_text() for p in sorted(committed.iterdir())}
