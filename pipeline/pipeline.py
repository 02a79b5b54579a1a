"""The pipeline definition: one function with explicit arguments, used by every runner.

DataPreparation (raw CSV -> stratified splits) -> CsvExampleGen -> StatisticsGen -> SchemaGen
-> ExampleValidator (+ AnomaliesGate) -> Transform -> Trainer -> Evaluator (against the latest blessed model) -> Pusher,
and BatchScoring of the test split with the pushed (so blessed) model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

import features
import signatures
from components.anomalies_gate import AnomaliesGate
from components.batch_scoring import BatchScoring
from components.data_preparation import DataPreparation, SplitsExampleGen, settings_parameter
from pipeline import tfx_api as tfx
from pipeline.configs import Config


def arguments_from_config(config: Config, module_dir: str | None) -> dict[str, Any]:
    """The create_pipeline arguments every runner shares; runners add where data, models and metadata live.

    With ``module_dir`` the Transform and Trainer code are module files (TFX packages them, and a change to
    them invalidates the cache: right for local runs); without it they are import paths, which a container
    image that has the modules on PYTHONPATH resolves (right for Kubeflow).
    """
    return {
        "pipeline_name": config.pipeline.name,
        "data_settings": settings_parameter(config.data),
        "preprocessing_fn": f"{module_dir}/preprocessing.py" if module_dir else "preprocessing.preprocessing_fn",
        "run_fn": f"{module_dir}/trainer.py" if module_dir else "trainer.run_fn",
        "hyperparameters": {**dataclasses.asdict(config.model), "random_seed": config.data.random_seed},
        "eval_thresholds": dataclasses.asdict(config.evaluator),
        "batch_size": config.batch_scoring.batch_size,
        "enable_cache": config.pipeline.enable_cache,
        "beam_pipeline_args": list(config.pipeline.beam_args),
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


def _user_code(location: str, function_arg: str) -> dict[str, str]:
    """A ``.py`` path becomes ``module_file``; anything else is an import path of the function."""
    return {"module_file": location} if location.endswith(".py") else {function_arg: location}


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_source: str,
    data_settings: str,
    preprocessing_fn: str,
    run_fn: str,
    hyperparameters: dict[str, Any],
    eval_thresholds: dict[str, float],
    batch_size: int,
    serving_model_dir: str,
    enable_cache: bool,
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    beam_pipeline_args: list[str] | None = None,
    data_source_version: str = "",
) -> tfx.dsl.Pipeline:
    """Build the TFX pipeline; runners (local, Kubeflow) only choose where it runs.

    ``hyperparameters`` (config.json's ``model`` section and the random seed) reach both Transform and
    Trainer as their ``custom_config``; the Trainer trains ``epochs`` full passes over the train split.
    ``data_source`` is the raw CSV (path or URL, gs:// included); ``data_settings`` the data section as JSON
    (components.data_preparation.settings_parameter); ``data_source_version`` only keys the step's cache.
    ``batch_size`` (config.json's ``batch_scoring``): questions per model call in the batch-scoring step.
    """
    data_preparation = DataPreparation(source=data_source, settings=data_settings,
                                       source_version=data_source_version)
    example_gen = SplitsExampleGen(prepared_splits=data_preparation.outputs["prepared"]).with_id("CsvExampleGen")
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        **_user_code(preprocessing_fn, "preprocessing_fn"),
        custom_config=hyperparameters,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
    )
    transform.add_upstream_node(anomalies_gate)

    trainer = tfx.components.Trainer(
        **_user_code(run_fn, "run_fn"),
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=hyperparameters,
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

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
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
                    trainer, model_resolver, evaluator, pusher, batch_scoring],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
