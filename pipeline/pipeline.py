"""The pipeline definition: one function with explicit arguments, used by every runner.

DataPreparation (raw CSV -> stratified splits) -> CsvExampleGen -> StatisticsGen -> SchemaGen
-> ExampleValidator (+ AnomaliesGate) -> Transform -> Trainer (starting from PretrainedEmbeddings' word vectors)
-> Evaluator (against the latest blessed model) -> ServingCheck (the candidate, with its warm-up file, in a real
model server) -> Pusher, and BatchScoring of the test split with the pushed (so blessed) model.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

import features
import pretrained
import signatures
from common.config import PROJECT_ROOT, Config
from components.anomalies_gate import AnomaliesGate
from components.batch_scoring import BatchScoring
from components.data_preparation import DataPreparation, SplitsExampleGen, settings_parameter
from components.pretrained_embeddings import PretrainedEmbeddings
from components.serving_check import ServingCheck
from pipeline import tfx_api as tfx

# The modules the Transform and Trainer code imports: their source is part of those components' cache key.
USER_CODE_MODULES = ("features", "signatures", "preprocessing", "pretrained", "trainer")


def user_code_version() -> str:
    """A hash of the Transform and Trainer code, so that editing it invalidates their cached results.

    The components get their functions as import paths (the installed project locally, the image on
    Kubeflow or Dataflow), so TFX neither packages a wheel of them nor pip-installs it into every
    executor: about 10 s of each run. TFX keys its cache on execution properties, and an import path alone
    does not change when the code does; this hash, in their ``custom_config``, does.
    """
    digest = hashlib.sha256()
    for name in USER_CODE_MODULES:
        digest.update((PROJECT_ROOT / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def arguments_from_config(config: Config) -> dict[str, Any]:
    """The create_pipeline arguments every runner shares; runners add where data, models and metadata live."""
    return {
        "pipeline_name": config.pipeline.name,
        "data_settings": settings_parameter(config.data),
        "preprocessing_fn": "preprocessing.preprocessing_fn",
        "run_fn": "trainer.run_fn",
        "hyperparameters": {**dataclasses.asdict(config.model), "random_seed": config.data.random_seed},
        "code_version": user_code_version(),
        "eval_thresholds": dataclasses.asdict(config.evaluator),
        "batch_size": config.batch_scoring.batch_size,
        "enable_cache": config.pipeline.enable_cache,
        "beam_pipeline_args": list(config.pipeline.beam_args),
        "serving_check": {"model_name": config.serving.model_name, "warmup_requests": config.serving.warmup_requests,
                          "max_load_seconds": float(config.serving.check_max_load_seconds)},
    }


def overall_only(threshold: tfma.MetricThreshold) -> tfma.PerSliceMetricThreshold:
    """A blessing threshold on the whole eval split; a plain ``threshold`` would also gate every small slice."""
    return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def eval_config(min_auc: float, min_binary_accuracy: float, max_auc_drop: float) -> tfma.EvalConfig:
    """TFMA metrics and the blessing thresholds (absolute bounds and no regression vs. baseline)."""
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_auc_drop - 1e-10}),
    )
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_binary_accuracy}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=signatures.SERVING_EXAMPLES,
            label_key=features.transformed_name(features.LABEL),
            preprocessing_function_names=[signatures.TRANSFORM_FEATURES],
        )],
        # Overall, then each slice feature the Transform graph makes (read through the transform_features signature).
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in features.SLICE_FEATURES],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AUC", per_slice_thresholds=[overall_only(auc_threshold)]),
            tfma.MetricConfig(class_name="BinaryAccuracy", per_slice_thresholds=[overall_only(accuracy_threshold)]),
            tfma.MetricConfig(class_name="Precision"),
            tfma.MetricConfig(class_name="Recall"),
            tfma.MetricConfig(class_name="Calibration"),
            tfma.MetricConfig(class_name="MeanLabel"),
            tfma.MetricConfig(class_name="MeanPrediction"),
            tfma.MetricConfig(class_name="CalibrationPlot"),
            tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
        ])],
    )


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_source: str,
    data_settings: str,
    preprocessing_fn: str,
    run_fn: str,
    hyperparameters: dict[str, Any],
    code_version: str,
    eval_thresholds: dict[str, float],
    batch_size: int,
    serving_model_dir: str,
    enable_cache: bool,
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    beam_pipeline_args: list[str] | None = None,
    data_source_version: str = "",
    serving_check: dict[str, Any] | None = None,
    data_feedback_file: str = "",
) -> tfx.dsl.Pipeline:
    """Build the TFX pipeline; runners (local, Kubeflow) only choose where it runs.

    ``hyperparameters`` (config.json's ``model`` section and the random seed) reach both Transform and
    Trainer as their ``custom_config``, with ``code_version`` (user_code_version) so that a change to their
    code reruns them; the Trainer trains ``epochs`` full passes over the train split. ``preprocessing_fn``
    and ``run_fn`` are import paths of the two functions.
    ``data_source`` is the raw CSV (path or URL, gs:// included); ``data_settings`` the data section as JSON
    (components.data_preparation.settings_parameter); ``data_source_version`` only keys the step's cache;
    ``data_feedback_file`` the corrections file whose rows go into the train split ('' for none).
    ``batch_size`` (config.json's ``batch_scoring``): questions per model call in the batch-scoring step.
    ``serving_check``: the ServingCheck's parameters (model_name, warmup_requests, max_load_seconds).
    """
    data_preparation = DataPreparation(source=data_source, settings=data_settings,
                                       source_version=data_source_version, feedback_file=data_feedback_file)
    example_gen = SplitsExampleGen(prepared_splits=data_preparation.outputs["prepared"]).with_id("CsvExampleGen")
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])

    user_config = {**hyperparameters, "code_version": code_version}
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=preprocessing_fn,
        custom_config=user_config,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
    )
    transform.add_upstream_node(anomalies_gate)

    # The Transform graph's lookup table and these vectors both come from pretrained.whole_words(max_words).
    pretrained_embeddings = PretrainedEmbeddings(
        max_words=hyperparameters["pretrained_words"], dimensions=hyperparameters["pretrained_dim"],
        package_version=pretrained.package_version())

    trainer = tfx.components.Trainer(
        run_fn=run_fn,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=pretrained_embeddings.outputs["embeddings"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=user_config,
    )

    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],  # the change threshold is skipped on the first run
        example_splits=["eval"],
        eval_config=eval_config(**eval_thresholds),
    )

    serving_check_step = ServingCheck(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        examples=example_gen.outputs["examples"],
        **(serving_check or {}),
    )

    pusher = tfx.components.Pusher(  # pushes the serving check's copy of the model: the one with the warm-up file
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=serving_check_step.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)),
    )

    batch_scoring = BatchScoring(
        examples=example_gen.outputs["examples"],
        pushed_model=pusher.outputs["pushed_model"],
        split="test",
        batch_size=batch_size,
    )

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[data_preparation, example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate, transform,
                    pretrained_embeddings, trainer, model_resolver, evaluator, serving_check_step, pusher, batch_scoring],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
