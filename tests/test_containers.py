"""Dockerfile and docker-compose.yml, checked statically (no Docker engine on these machines)."""

import json
import re
import shutil
import subprocess

import jsonschema
import yaml

from common import config as configs
from deploy import manifests
from tests.helpers import ROOT

COMPOSE_SCHEMA = ROOT / "tests" / "schemas" / "compose-spec.json"  # from the compose-spec repository (Apache-2.0)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def config() -> configs.Config:
    return configs.load(ROOT / "config.json", environ={})


def test_dockerfile_passes_hadolint_with_nothing_above_info():
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_and_run_sh_install_the_same_lock_through_the_same_script():
    run_sh = (ROOT / "run.sh").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'scripts/install_env.sh --project "$VENV" "$@"' in run_sh
    assert "RUNTIME_LOCKS=(requirements.lock)" in run_sh
    assert "RUN python -m venv /opt/venv && scripts/install_env.sh /opt/venv requirements.lock" in dockerfile
    assert "RUN scripts/install_env.sh --project /opt/venv" in dockerfile


def test_image_is_multi_stage_non_root_with_runnable_run_sh_and_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert len(bases) == 2 and all(b == "python:3.10.13-slim-bookworm" for b in bases)
    assert re.search(r"^USER 10001$", dockerfile, re.M) and "chmod 0755 run.sh" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "_stcore/health" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "outputs", "tests", "requirements-dev.lock", ".git"} <= set(ignored)


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.validate(compose(), schema, cls=jsonschema.Draft7Validator)


def test_committed_compose_file_is_what_config_json_renders():
    """Edit config.json, run ./run.sh render-kubernetes, commit: this test fails until the files agree."""
    for path, text in manifests.rendered_compose_files(config()).items():
        assert path.read_text() == text, f"{path.name} differs from config.json: ./run.sh render-kubernetes"


def test_compose_services_agree_with_config():
    services, cfg = compose()["services"], config()
    assert set(services) == {"pipeline", "serving", "app"}
    serving = services["serving"]
    assert serving["image"] == cfg.kubernetes.serving_image == "tensorflow/serving:2.16.1"  # the project's TF is 2.16
    assert services["pipeline"]["image"] == services["app"]["image"] == cfg.kubeflow.image
    assert serving["environment"]["MODEL_NAME"] == cfg.serving.model_name
    assert serving["ports"] == [f"127.0.0.1:{cfg.serving.grpc_port}:8500", f"127.0.0.1:{cfg.serving.rest_port}:8501"]
    assert serving["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"
    # The pipeline pushes to /app/<serving.model_dir>; serving mounts the volume at the same path, so the model
    # config file the pipeline writes there names base paths that hold in both containers.
    model_dir = cfg.serving.model_dir.relative_to(ROOT / "outputs")
    assert services["pipeline"]["volumes"] == ["outputs:/app/outputs"]
    assert serving["volumes"] == ["outputs:/app/outputs:ro"]
    assert serving["environment"]["MODEL_BASE_PATH"] == f"/app/outputs/{model_dir}"
    app = services["app"]
    # The app reads the serving container's address through config.json's environment overrides.
    app_config = configs.from_dict(yaml.safe_load((ROOT / "config.json").read_text()), environ=app["environment"])
    assert (app_config.serving.host, app_config.serving.grpc_port, app_config.serving.rest_port) == ("serving", 8500, 8501)
    assert app_config.app.host == "0.0.0.0" and app_config.app.port == cfg.app.port
    assert app["ports"] == [f"127.0.0.1:{cfg.app.port}:{cfg.app.port}"]
    assert app["depends_on"]["serving"]["condition"] == "service_healthy"
    assert "outputs" in compose()["volumes"]
