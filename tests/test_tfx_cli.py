"""TFX's own command line (the venv's ``tfx`` entry point, in a subprocess) drives this project's pipeline.

The session's pipeline run itself is ``tfx pipeline create`` + ``tfx run create`` (tests/conftest.py); these
tests read what that run printed and drive the other commands against the same records ($LOCAL_HOME).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import ROOT, SMALL_OVERRIDES, run_tfx_cli, write_config

LOCAL_RUNNER = str(ROOT / "local_runner.py")
KUBEFLOW_RUNNER = str(ROOT / "kubeflow_v2_runner.py")


def test_tfx_run_create_is_the_pipeline_command_with_its_closing_lines(pipeline_run):
    """`tfx run create` ran local_runner.py as a script: the component lines, the closing lines, the report."""
    config, output = pipeline_run["config"], pipeline_run["output"]
    lines = output.strip().splitlines()
    assert f"pipeline: {config.pipeline.name} from {config.data.source}" in lines
    assert any(re.fullmatch(r"  Trainer +ran +[\d.]+ s", line) for line in lines), output
    assert f"metrics summary: {config.pipeline.summary_path}" in lines
    report = Path(lines[-1].removeprefix("report: "))
    assert lines[-1].startswith("report: ") and report.is_file() and report.parent.parent == config.pipeline.output_dir
    assert json.loads(config.pipeline.summary_path.read_text())["blessed"] is True  # same outputs as ./run.sh


def test_list_update_delete_and_a_run_of_a_deleted_pipeline(pipeline_run, small_config_path):
    name, home = pipeline_run["config"].pipeline.name, pipeline_run["tfx_home"]

    def tfx(*args: str):
        return run_tfx_cli(list(args), small_config_path, home, timeout=600)

    listed = tfx("pipeline", "list", "--engine", "local")
    assert listed.returncode == 0 and name in listed.stdout.splitlines(), listed.stdout + listed.stderr
    updated = tfx("pipeline", "update", "--engine", "local", "--pipeline_path", LOCAL_RUNNER)
    assert updated.returncode == 0 and f'Pipeline "{name}" updated successfully.' in updated.stdout, updated.stderr
    deleted = tfx("pipeline", "delete", "--engine", "local", "--pipeline_name", name)
    assert deleted.returncode == 0 and f'Pipeline "{name}" deleted successfully.' in deleted.stdout, deleted.stderr
    orphan = tfx("run", "create", "--engine", "local", "--pipeline_name", name)
    assert orphan.returncode != 0 and orphan.stderr.strip().splitlines()[-1] == f'Pipeline "{name}" does not exist.'
    assert "Traceback" not in orphan.stderr


def test_a_runner_file_with_a_config_error_ends_in_one_line(tmp_path):
    config_path = write_config(tmp_path, {**SMALL_OVERRIDES, "data": {"total_sample_size": -5}})
    result = run_tfx_cli(["pipeline", "create", "--engine", "local", "--pipeline_path", LOCAL_RUNNER], config_path,
                         tmp_path / "tfx_home", timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "total_sample_size" in last, result.stderr
    assert not (tmp_path / "tfx_home" / "local").exists() or not any((tmp_path / "tfx_home" / "local").iterdir())


def test_vertex_engine_writes_the_same_package_as_compile_kubeflow(tmp_path):
    """`tfx pipeline create --engine vertex` (no image build, no submission): one compilation, two identical jobs."""
    out = tmp_path / "out"
    config_path = write_config(tmp_path, {"kubeflow": {"package_file": str(out / "ppq.yaml"),
                                                       "output_file": str(out / "ppq.json")}})
    result = run_tfx_cli(["pipeline", "create", "--engine", "vertex", "--pipeline_path", KUBEFLOW_RUNNER], config_path,
                         tmp_path / "tfx_home", timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    name = json.loads((out / "ppq.json").read_text())["displayName"]
    assert f'Pipeline "{name}" created successfully.' in result.stdout
    cli_job = tmp_path / "tfx_home" / "vertex" / name / "pipeline.json"
    assert cli_job.read_text() == (out / "ppq.json").read_text()
    assert json.loads(cli_job.read_text())["pipelineSpec"]["pipelineInfo"]["name"] == name
