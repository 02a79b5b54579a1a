"""The same pipeline compiled for Kubeflow Pipelines (YAML) and Vertex AI (PipelineJob JSON), read by KFP's SDK.

The KFP SDK (2.5.0, what TFX 1.16's kfp extra resolves to) lives in an environment of its own
(``<venv>/kfp``, requirements-kfp.in says why); tests/kfp_reader.py runs there and reports what
``create_run_from_pipeline_package``'s reader and ``load_component_from_file`` found.
"""

import contextlib
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from common import config as configs
from pipeline import cli
from tests.helpers import ROOT, write_config

KFP_PYTHON = Path(sys.prefix) / "kfp" / "bin" / "python"
IMAGE = "registry.example/ppq-tfx:test"
TFX_EXECUTOR_RUNNER = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
CONTAINER_COMPONENTS = {"DataPreparation", "CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                        "AnomaliesGate", "Transform", "PretrainedEmbeddings", "Trainer", "Evaluator", "ServingCheck",
                        "Pusher", "BatchScoring"}
LOCAL_COMPONENTS = {"CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomaliesGate", "Transform",
                    "Trainer", "Evaluator", "ServingCheck", "Pusher", "BatchScoring"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("kubeflow")
    path = write_config(tmp, {"kubeflow": {"image": IMAGE, "package_file": str(tmp / "out" / "pipeline.yaml"),
                                           "output_file": str(tmp / "out" / "vertex-job.json")}})
    config = configs.load(path, environ={})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the command users run: ./run.sh compile-kubeflow
        assert cli.main(["--config", str(path), "compile-kubeflow"]) == 0
    package, job = Path(config.kubeflow.package_file), Path(config.kubeflow.output_file)
    assert f"Kubeflow Pipelines package: {package}; Vertex AI PipelineJob: {job}" in out.getvalue()
    assert KFP_PYTHON.is_file(), f"no KFP SDK environment at {KFP_PYTHON}: ./run.sh test makes it"
    result = subprocess.run([str(KFP_PYTHON), str(ROOT / "tests" / "kfp_reader.py"), str(package), str(job)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"config": config, "package": package, "job": job, "kfp": json.loads(result.stdout)}


def constant(task: dict, parameter: str) -> str | int:
    value = task["parameters"][parameter]["constantValue"]
    return value.get("stringValue", value.get("intValue"))


def test_kfp_sdk_reads_the_yaml_package_and_refuses_the_vertex_json(compiled):
    kfp = compiled["kfp"]
    assert kfp["kfp_version"] == "2.5.0" and kfp["pipeline_name"] == compiled["config"].pipeline.name
    tasks = set(kfp["tasks"])
    assert CONTAINER_COMPONENTS <= tasks and any(t.startswith("latest_blessed_model_resolver") for t in tasks)
    assert kfp["loaded_component"] == {"name": compiled["config"].pipeline.name, "tasks": sorted(tasks)}
    assert kfp["refused"] and "should end with one of the following formats" in kfp["refused"]


def test_every_component_runs_the_configured_image_with_an_importable_executor(compiled):
    executors, beam_args = compiled["kfp"]["executors"], compiled["config"].pipeline.beam_args
    for component in CONTAINER_COMPONENTS:
        container = executors[f"{component}_executor"]
        assert container["image"] == IMAGE, component
        # The spec's command overrides the image's ./run.sh entrypoint.
        assert container["command"] == TFX_EXECUTOR_RUNNER, component
        args = container["args"]
        assert args[:2] == ["--executor_class_path", args[1]] and "--json_serialized_invocation_args" in args
        module, _, name = args[1].rpartition(".")
        assert hasattr(importlib.import_module(module), name), f"{component}: {args[1]} is not importable"
        assert all(arg in args for arg in beam_args), component


def test_pipeline_starts_from_the_raw_csv_on_cluster_storage_and_pushes_to_serving_dir(compiled):
    tasks, config = compiled["kfp"]["tasks"], compiled["config"]
    preparation = tasks["DataPreparation"]
    assert preparation["dependencies"] == []
    assert constant(preparation, "source") == f"{config.kubeflow.data_root}/PrePostQuestions.csv.gz"
    assert json.loads(constant(preparation, "settings"))["total_sample_size"] == config.data.total_sample_size
    assert tasks["CsvExampleGen"]["dependencies"] == ["DataPreparation"]
    push = json.loads(constant(tasks["Pusher"], "push_destination"))
    assert push["filesystem"]["base_directory"] == f"{config.kubeflow.serving_dir}/{config.serving.model_name}"
    assert "preprocessing.preprocessing_fn" in constant(tasks["Transform"], "preprocessing_fn")
    assert "trainer.run_fn" in constant(tasks["Trainer"], "run_fn")
    # The Pusher pushes what the serving check blessed (its copy carries the warm-up file), after the Evaluator.
    assert set(tasks["Pusher"]["dependencies"]) == {"Evaluator", "ServingCheck"}
    assert set(tasks["ServingCheck"]["dependencies"]) == {"CsvExampleGen", "Evaluator", "Trainer"}
    assert int(constant(tasks["ServingCheck"], "warmup_requests")) == config.serving.warmup_requests


def test_vertex_ai_sdk_builds_a_pipeline_job_from_the_json(compiled):
    """google-cloud-aiplatform (in the runtime lock) reads the JSON as a PipelineJob; nothing is submitted."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform
    config = compiled["config"]
    job = aiplatform.PipelineJob(display_name=config.pipeline.name, template_path=str(compiled["job"]),
                                 project="example-project", location="us-central1",
                                 credentials=AnonymousCredentials())
    resource = job._gca_resource  # the request body submit() would send
    assert resource.runtime_config.gcs_output_directory == config.kubeflow.pipeline_root
    assert set(resource.pipeline_spec["root"]["dag"]["tasks"]) == set(compiled["kfp"]["tasks"])
