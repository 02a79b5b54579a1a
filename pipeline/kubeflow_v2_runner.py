"""Compile the same pipeline definition for Kubeflow Pipelines and Vertex AI Pipelines.

Two files from one compilation: the KFP v2 pipeline spec as YAML (kubeflow.package_file), which
open-source Kubeflow Pipelines accepts (``kfp.Client().create_run_from_pipeline_package``), and the
PipelineJob JSON (kubeflow.output_file: display name, pipeline spec, runtime config) that Vertex AI
Pipelines submits. The image (kubeflow.image) is the project's Docker image: it holds TFX and, on its
PYTHONPATH, preprocessing.py, trainer.py and the project's components. The raw CSV, pipeline root and
pushed models live on the cluster's storage (kubeflow.*).
"""

from __future__ import annotations

from pathlib import Path

from tfx import v1 as tfx

from common.config import Config
from pipeline import pipeline


def compile_pipeline(config: Config) -> tuple[Path, Path]:
    """Write the KFP pipeline spec YAML and the Vertex AI PipelineJob JSON; return both paths."""
    kubeflow = config.kubeflow
    definition = pipeline.create_pipeline(
        pipeline_root=kubeflow.pipeline_root,
        data_source=kubeflow.raw_data_uri(config.data.source),
        serving_model_dir=f"{kubeflow.serving_dir.rstrip('/')}/{config.serving.model_name}",
        **pipeline.arguments_from_config(config),  # the image has the code the import paths name
    )
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=kubeflow.image)
    for target in (kubeflow.package_file, kubeflow.output_file):  # TFX writes YAML for a .yaml name
        target.parent.mkdir(parents=True, exist_ok=True)
        tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=runner_config, output_dir=str(target.parent), output_filename=target.name,
        ).run(definition, write_out=True)
    return kubeflow.package_file, kubeflow.output_file
