"""Run the pipeline on this machine with TFX's LocalDagRunner and Beam's DirectRunner.

Three doors to the one pipeline, all through this file:
- ``./run.sh pipeline`` (pipeline/cli.py) calls :func:`run`;
- ``python local_runner.py`` is the same command as ``./run.sh pipeline`` (closing lines, report);
- TFX's command line: ``tfx pipeline create|update|compile --engine local --pipeline_path local_runner.py``
  loads this file as ``__main__`` with ``LocalDagRunner.run`` patched to record the pipeline without running
  it, and ``tfx run create --engine local --pipeline_name <name>`` executes it as a script.
It lives at the repository root, as in TFX's taxi template: the command line puts the file's own folder first
on the import path, so from inside ``pipeline/`` the name ``pipeline`` would be ``pipeline/pipeline.py``.
The config is config.json, or the file named by $PPQ_CONFIG.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow is imported, also under `tfx run create`

from absl import logging  # noqa: E402

from common import config as configs  # noqa: E402
from dataprep import preparation  # noqa: E402
from models import layout  # noqa: E402
from monitoring.feedback import feedback_path  # noqa: E402
from pipeline import beam_dependencies, cli, pipeline  # noqa: E402
from pipeline import tfx_api as tfx  # noqa: E402


def build(config: configs.Config) -> tfx.dsl.Pipeline:
    """The local pipeline, from the raw CSV (data.source) to the pushed model."""
    config.pipeline.metadata_path.parent.mkdir(parents=True, exist_ok=True)
    arguments = pipeline.arguments_from_config(config)
    arguments["beam_pipeline_args"] = beam_dependencies.with_cached_tfx_package(arguments["beam_pipeline_args"])
    corrections = feedback_path(config.pipeline.output_dir)
    feedback = str(corrections) if corrections.is_file() else ""  # none yet: the same cache key wherever outputs go
    version = preparation.source_version(config.data.source)
    return pipeline.create_pipeline(
        pipeline_root=str(config.pipeline.root),
        data_source=config.data.source,
        data_source_version=f"{version}+{preparation.source_version(feedback)}" if feedback else version,
        data_feedback_file=feedback,
        serving_model_dir=str(config.serving.model_base_path),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(config.pipeline.metadata_path)),
        **arguments,
    )


def run(config: configs.Config) -> float:
    """Run the whole pipeline; return its wall time in seconds.

    TFX reports progress at absl's INFO level (the quiet run reads it), so the run raises the verbosity and
    puts it back afterwards.
    """
    for folder in layout.remove_incomplete_versions(config.serving.model_base_path):
        print(f"pipeline: removed {folder}, an incomplete push left by an interrupted run")
    previous = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    started = time.monotonic()
    try:
        tfx.orchestration.LocalDagRunner().run(build(config))
    finally:
        logging.set_verbosity(previous)
    return time.monotonic() - started


def recorded_by_tfx_cli() -> bool:
    """Whether TFX's command line has patched ``LocalDagRunner.run`` to record the pipeline instead of running it.

    ``tfx pipeline create/update/compile`` wrap the method with ``functools.wraps``
    (tfx/tools/cli/handler/dag_runner_patcher.py), which leaves ``__wrapped__`` on it.
    """
    return hasattr(tfx.orchestration.LocalDagRunner.run, "__wrapped__")


def record_for_tfx_cli(config: configs.Config) -> None:
    """Hand the pipeline to the command line's patched runner, which records its name and root."""
    tfx.orchestration.LocalDagRunner().run(build(config))


def main() -> None:
    """``python local_runner.py`` or TFX's command line: errors end in the project's one-line message."""
    if recorded_by_tfx_cli():  # in TFX's command line's own process, which goes on after this file
        sys.exit(cli.guarded(lambda: record_for_tfx_cli(configs.load())))
    cli.exit_now(cli.main(["pipeline"]))  # a process of its own: no interpreter teardown (cli.exit_now says why)


if __name__ == "__main__":
    main()
