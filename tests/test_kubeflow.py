"""The same pipeline definition compiled for Kubeflow (KFP v2 pipeline spec), without a cluster."""

import json

from pipeline import configs, kubeflow_v2_runner
from tests.helpers import write_config

LOCAL_COMPONENTS = {"CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomaliesGate", "Transform",
                    "Trainer", "Evaluator", "Pusher", "BulkInferrer"}


def test_compiled_spec_has_every_local_component_with_the_configured_image(tmp_path):
    config = configs.load(write_config(tmp_path, {"kubeflow": {"image": "registry.example/ppq-tfx:test"}}), environ={})
    path = kubeflow_v2_runner.compile_pipeline(config)
    spec = json.loads(path.read_text())["pipelineSpec"]
    tasks = set(spec["root"]["dag"]["tasks"])
    assert LOCAL_COMPONENTS <= tasks
    assert any(t.startswith("latest_blessed_model_resolver") for t in tasks)
    executors = spec["deploymentSpec"]["executors"]
    for component in LOCAL_COMPONENTS:
        container = executors[f"{component}_executor"]["container"]
        assert container["image"] == "registry.example/ppq-tfx:test"
        assert container["command"], "the spec's command must override the image's ./run.sh entrypoint"
    assert json.loads(path.read_text())["runtimeConfig"]["gcsOutputDirectory"] == config.kubeflow.pipeline_root
    assert "preprocessing.preprocessing_fn" in json.dumps(spec["root"]["dag"]["tasks"]["Transform"])
    assert "trainer.run_fn" in json.dumps(spec["root"]["dag"]["tasks"]["Trainer"])
    beam_args = executors["Transform_executor"]["container"]["args"]
    assert all(arg in beam_args for arg in config.pipeline.beam_args)


def test_compiled_spec_reads_data_from_data_root_and_pushes_to_serving_dir(tmp_path):
    kubeflow = {"data_root": "gs://bucket-x/ppq/data", "serving_dir": "gs://bucket-x/ppq/serving/"}
    config = configs.load(write_config(tmp_path, {"kubeflow": kubeflow}), environ={})
    tasks = json.loads(kubeflow_v2_runner.compile_pipeline(config).read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    example_gen, pusher = json.dumps(tasks["CsvExampleGen"]), json.dumps(tasks["Pusher"])
    assert "gs://bucket-x/ppq/data" in example_gen
    assert f"gs://bucket-x/ppq/serving/{config.serving.model_name}" in pusher
    assert "/ppq/serving//" not in pusher and str(config.data.prepared_dir) not in example_gen

