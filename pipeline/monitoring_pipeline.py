"""The monitoring job as a small pipeline of its own, for a recurring run on Kubeflow Pipelines.

Two resolvers find, in the cluster's ML Metadata, the latest pushed model and the latest prepared splits (the
training pipeline's outputs), and ``RequestLogMonitor`` checks the latest window of the request log (read from
the cluster's storage through TensorFlow's file systems) with the same code as ``./run.sh monitor``. Its
``MonitoringReport`` artifact holds the anomalies, the HTML report and the Prometheus textfile, and its
properties the verdict; with ``fail_on_alert`` the run fails on an alert, so the scheduler shows it.
``./run.sh compile-kubeflow`` writes it beside the training pipeline's package (``<package>-monitoring.yaml``).
"""

# No "from __future__ import annotations" here: TFX's component decorator reads the annotations as types.
import dataclasses
import json
import tempfile
from pathlib import Path

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.types import artifact, standard_artifacts

from common.config import Config, MonitoringConfig
from components.data_preparation import PreparedSplits
from pipeline import tfx_api as tfx

MONITOR_ID = "RequestLogMonitor"


class MonitoringError(RuntimeError):
    """The window is over a skew or drift threshold (raised only with fail_on_alert)."""


class MonitoringReport(artifact.Artifact):
    """Anomalies, report.html and metrics.prom of one monitoring check; verdict and distances as properties."""

    TYPE_NAME = "ppq.MonitoringReport"


def settings_parameter(config: MonitoringConfig) -> str:
    """The monitoring section as the step's JSON parameter (everything but the local output folder)."""
    return json.dumps({f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "output_dir"},
                      sort_keys=True)


@component
def RequestLogMonitor(  # noqa: N802 (TFX component naming)
    prepared: InputArtifact[PreparedSplits],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    report: OutputArtifact[MonitoringReport],
    request_log_prefix: Parameter[str],
    settings: Parameter[str],
    fail_on_alert: Parameter[int] = 0,
) -> None:
    """One skew/drift check of the request log's latest window against the pushed model's training split."""
    import tensorflow as tf

    from dataprep import splits
    from models.pushed_models import LoadedModel
    from monitoring import job, records
    from serving import request_log

    destination = pushed_model.get_string_custom_property("pushed_destination")
    version = int(pushed_model.get_string_custom_property("pushed_version"))
    model = LoadedModel(version=version, path=Path(destination), saved_model=tf.saved_model.load(destination))
    with tf.io.gfile.GFile(f"{prepared.uri.rstrip('/')}/{splits.split_path(Path(), 'train')}") as handle:
        train = splits.read_csv_as_text(handle)
    files = sorted(tf.io.gfile.glob(f"{request_log_prefix}-*{request_log.SUFFIX}"))
    with tempfile.TemporaryDirectory(prefix="ppq-monitor-") as tmp:
        monitoring = MonitoringConfig(output_dir=Path(tmp), **json.loads(settings))
        window = job.check_logged(records.read_log(files), monitoring, lambda _: job.score_training_split(train, model))
        if window is None:
            report.set_string_custom_property("verdict", "empty window")
            return
        job.write_outputs(Path(tmp), window)
        for path in Path(tmp).rglob("*"):
            if path.is_file():
                target = f"{report.uri.rstrip('/')}/{path.relative_to(tmp)}"
                tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
                tf.io.gfile.copy(str(path), target, overwrite=True)
    report.set_string_custom_property("verdict", "alert" if window.result.alert else "ok")
    report.set_int_custom_property("rows", window.rows)
    for distance in window.result.distances:
        report.set_float_custom_property(f"{distance.kind}_{distance.feature}", distance.value)
    if fail_on_alert and window.result.alert:
        raise MonitoringError("skew or drift over a threshold: " + ", ".join(
            f"{d.kind} {d.feature} {d.value:.3f} > {d.threshold}" for d in window.result.distances if d.alert))


def create_monitoring_pipeline(pipeline_name: str, pipeline_root: str, request_log_prefix: str, settings: str,
                               fail_on_alert: bool = True) -> tfx.dsl.Pipeline:
    prepared = tfx.dsl.Resolver(strategy_class=LatestArtifactStrategy,
                                prepared=tfx.dsl.Channel(type=PreparedSplits)).with_id("latest_prepared_splits_resolver")
    pushed = tfx.dsl.Resolver(strategy_class=LatestArtifactStrategy,
                              pushed_model=tfx.dsl.Channel(type=standard_artifacts.PushedModel)
                              ).with_id("latest_pushed_model_resolver")
    monitor = RequestLogMonitor(prepared=prepared.outputs["prepared"], pushed_model=pushed.outputs["pushed_model"],
                                request_log_prefix=request_log_prefix, settings=settings,
                                fail_on_alert=int(fail_on_alert)).with_id(MONITOR_ID)
    return tfx.dsl.Pipeline(pipeline_name=f"{pipeline_name}-monitoring", pipeline_root=pipeline_root,
                            components=[prepared, pushed, monitor])


def package_path(config: Config) -> Path:
    package = config.kubeflow.package_file
    return package.with_name(f"{package.stem}-monitoring{package.suffix}")


def compile_monitoring(config: Config) -> Path:
    """The monitoring pipeline as a KFP YAML package; the request log is read from kubeflow.request_log_dir."""
    from tfx import v1

    kubeflow = config.kubeflow
    prefix = f"{kubeflow.request_log_dir}/{config.serving.logging.filename_prefix.name}"
    definition = create_monitoring_pipeline(config.pipeline.name, kubeflow.pipeline_root, prefix,
                                            settings_parameter(config.monitoring))
    target = package_path(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    v1.orchestration.experimental.KubeflowV2DagRunner(
        config=v1.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=kubeflow.image),
        output_dir=str(target.parent), output_filename=target.name).run(definition, write_out=True)
    return target
