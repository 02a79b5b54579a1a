"""Compile the same pipeline definition for Kubeflow Pipelines / Vertex AI Pipelines (KFP v2 spec JSON).

The image (config kubeflow.image) is the project's Docker image: it holds TFX and,
on its PYTHONPATH, preprocessing.py, trainer.py and the AnomaliesGate component. Data,
pipeline root and pushed models live on the cluster's storage (kubeflow.*_root).
Submit the JSON with the KFP SDK or the Vertex AI console (see README).
"""

from __future__ import annotations

from pathlib import Path

from tfx import v1 as tfx

from pipeline import pipeline
from pipeline.configs import Config


def compile_pipeline(config: Config) -> Path:
    """Write the pipeline spec JSON to kubeflow.output_file and return its path."""
    kubeflow = config.kubeflow
    definition = pipeline.create_pipeline(
        pipeline_root=kubeflow.pipeline_root,
        data_path=kubeflow.data_root,
        serving_model_dir=f"{kubeflow.serving_dir.rstrip('/')}/{config.serving.model_name}",
        **pipeline.arguments_from_config(config, None),  # code comes from the image
    )
    kubeflow.output_file.parent.mkdir(parents=True, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=kubeflow.image),
        output_dir=str(kubeflow.output_file.parent),
        output_filename=kubeflow.output_file.name,
    )
    runner.run(definition, write_out=True)
    return kubeflow.output_file
