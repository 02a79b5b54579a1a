"""Compile the same pipeline definition for Kubeflow Pipelines and Vertex AI Pipelines.

Two files from one compilation: the KFP v2 pipeline spec as YAML (kubeflow.package_file), which
open-source Kubeflow Pipelines accepts (``kfp.Client().create_run_from_pipeline_package``), and the
PipelineJob JSON (kubeflow.output_file: display name, pipeline spec, runtime config) that Vertex AI
Pipelines submits. The image (kubeflow.image) is the project's Docker image: it holds TFX and, on its
PYTHONPATH, preprocessing.py, trainer.py and the project's components. The raw CSV, pipeline root and
pushed models live on the cluster's storage (kubeflow.*).

``./run.sh compile-kubeflow`` calls :func:`compile_pipeline`; ``python kubeflow_v2_runner.py`` does the same,
and so do TFX's ``tfx pipeline create|update|compile --engine vertex --pipeline_path kubeflow_v2_runner.py``,
whose patch of ``KubeflowV2DagRunner.run`` also writes the PipelineJob JSON into the command line's own
folder ($VERTEX_HOME, default ~/tfx/vertex/<pipeline>/pipeline.json). This file lives at the repository root
for the reason local_runner.py gives.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tfx import v1 as tfx  # noqa: E402

from common import config as configs  # noqa: E402
from common.files import write_atomically  # noqa: E402
from pipeline import cli, pipeline  # noqa: E402


def compile_pipeline(config: configs.Config) -> tuple[Path, Path]:
    """Write the KFP pipeline spec YAML and the Vertex AI PipelineJob JSON; return both paths.

    The runner is called once (TFX's command line allows one call per file): it writes the YAML, and the
    PipelineJob it returns is the JSON, as TFX itself would write it for a .json name.
    """
    kubeflow = config.kubeflow
    definition = pipeline.create_pipeline(
        pipeline_root=kubeflow.pipeline_root,
        data_source=kubeflow.raw_data_uri(config.data.source),
        serving_model_dir=f"{kubeflow.serving_dir.rstrip('/')}/{config.serving.model_name}",
        **pipeline.arguments_from_config(config),  # the image has the code the import paths name
    )
    kubeflow.package_file.parent.mkdir(parents=True, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=kubeflow.image),
        output_dir=str(kubeflow.package_file.parent), output_filename=kubeflow.package_file.name,
    )
    job = runner.run(definition, write_out=True)  # TFX writes YAML for a .yaml name
    write_atomically(kubeflow.output_file, json.dumps(job, sort_keys=True))
    return kubeflow.package_file, kubeflow.output_file


def main() -> None:
    """``python kubeflow_v2_runner.py`` or TFX's command line: the training pipeline's package (the monitoring
    pipeline is ``./run.sh compile-kubeflow``'s second file); errors end in the project's one-line message."""
    def compile_training_pipeline() -> None:
        package, job = compile_pipeline(configs.load())
        print(f"Kubeflow Pipelines package: {package}; Vertex AI PipelineJob: {job}")
    sys.exit(cli.guarded(compile_training_pipeline))  # TFX's command line goes on after this file: a normal exit


if __name__ == "__main__":
    main()
