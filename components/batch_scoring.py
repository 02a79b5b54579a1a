"""Batch scoring: the pushed (so blessed) model scores a split, in batches, on any Beam runner.

TensorFlow reads and parses the split's tf.Examples in blocks of ``batch_size`` questions; Beam's
``RunInference`` loads the SavedModel once per worker (``tf.saved_model.load``) and calls its
``serving_default`` signature once a block, so the per-question cost is the model's, not the framework's.
(Beam's per-element batching, one element per question, cost more than the model itself: see
docs/performance.md.) The step writes CSV shards (``predictions-*.csv``) with the question, the true label
when the input has one, P(Post), the predicted label and the served model version; the report reads them
with ``read_predictions``. This module is the one home of that file layout.

The model comes from the Pusher's output: Pusher copies a model there only when the Evaluator blessed
it, so an unblessed model is never scored, and the artifact names the version the model server serves.
"""

import csv
import io
import os
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import pandas as pd
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference
from tfx.dsl.component.experimental.annotations import BeamComponentParameter, InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts

import features
import signatures

PREDICTIONS_PREFIX = "predictions"
PREDICTIONS_SUFFIX = ".csv"
TRUE_LABEL, MODEL_VERSION = "true_label", "model_version"
PROBABILITY, PREDICTED_LABEL = signatures.PROBABILITY_OUTPUT, signatures.LABEL_OUTPUT
COLUMNS = [features.QUESTION, TRUE_LABEL, PROBABILITY, PREDICTED_LABEL, MODEL_VERSION]
SCORED_PROPERTY = "scored"  # 1 when the step wrote predictions, 0 when there was no pushed model to score

Block = tuple[Any, Any]  # numpy arrays (UTF-8 bytes) of up to batch_size questions and their true labels ('' unknown)


class Predictions(artifact.Artifact):
    """CSV shards of per-question predictions (layout: this module)."""
    TYPE_NAME = "prepost.Predictions"  # <namespace>.<Title>: what Kubeflow V2 accepts for a custom artifact type


class ReadQuestionBlocks(beam.DoFn):
    """A GZIP file of serialized tf.Examples -> blocks of (questions, true labels), parsed by TensorFlow in C++."""

    def __init__(self, batch_size: int):
        super().__init__()
        self._batch_size = batch_size

    def process(self, path: str) -> Iterable[Block]:
        import tensorflow as tf
        spec = {features.QUESTION: tf.io.FixedLenFeature([], tf.string),
                features.LABEL: tf.io.FixedLenFeature([], tf.string, default_value="")}
        blocks = (tf.data.TFRecordDataset(path, compression_type="GZIP").batch(self._batch_size)
                  .map(lambda records: tf.io.parse_example(records, spec)).prefetch(2))  # parses while the model runs
        for parsed in blocks:
            yield parsed[features.QUESTION].numpy(), parsed[features.LABEL].numpy()


class QuestionModelHandler(ModelHandler[Block, PredictionResult, Any]):
    """Loads a SavedModel with tf.saved_model.load and calls ``serving_default`` on a block of raw questions."""

    def __init__(self, model_path: str):
        super().__init__()
        self._model_path = model_path

    def load_model(self) -> Any:
        import tensorflow as tf  # on the worker that runs the blocks
        return tf.saved_model.load(self._model_path)

    def run_inference(self, batch: Block, model: Any, inference_args: dict[str, Any] | None = None,
                      ) -> Iterable[PredictionResult]:
        """One call of the model for one block (the handler is used unbatched: each element is a block)."""
        import tensorflow as tf
        outputs = model.signatures[signatures.SERVING_DEFAULT](**{signatures.QUESTION_INPUT: tf.constant(batch[0])})
        probabilities = outputs[signatures.PROBABILITY_OUTPUT].numpy().tolist()
        labels = [label.decode("utf-8") for label in outputs[signatures.LABEL_OUTPUT].numpy()]
        return [PredictionResult(batch, (probabilities, labels))]

    def get_num_bytes(self, batch: Block) -> int:
        """The questions' size (the default pickles every batch just to measure it)."""
        return sum(map(len, batch[0]))


def _csv_lines(result: PredictionResult, model_version: str) -> str:
    """One block's predictions as CSV lines (one text element a block: WriteToText adds the last newline)."""
    (questions, true_labels), (probabilities, labels) = result.example, result.inference
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        zip((q.decode("utf-8") for q in questions), (t.decode("utf-8") for t in true_labels),
            (f"{p:.6g}" for p in probabilities), labels, [model_version] * len(questions), strict=True))
    return buffer.getvalue()[:-1]


class ScoreQuestions(beam.PTransform):
    """Blocks of (questions, true labels) -> CSV shards of predictions under ``output_dir``."""

    def __init__(self, model_path: str, model_version: str, output_dir: str):
        super().__init__()
        self._handler = QuestionModelHandler(model_path).with_no_batching()
        self._model_version = model_version
        self._output_dir = output_dir

    def expand(self, blocks: beam.PCollection[Block]) -> beam.pvalue.PDone:
        return (blocks
                | "RunInference" >> RunInference(self._handler)
                | "ToCsvLines" >> beam.Map(_csv_lines, self._model_version)
                | "WriteShards" >> beam.io.WriteToText(os.path.join(self._output_dir, PREDICTIONS_PREFIX),
                                                       file_name_suffix=PREDICTIONS_SUFFIX, header=",".join(COLUMNS)))


@component(use_beam=True)
def BatchScoring(  # noqa: N802 - a TFX component is named like a class
    examples: InputArtifact[standard_artifacts.Examples],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    predictions: OutputArtifact[Predictions],
    split: Parameter[str] = "test",
    batch_size: Parameter[int] = 1024,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Score ``split`` of ``examples`` with the pushed model (nothing when this run pushed none)."""
    if pushed_model.get_int_custom_property("pushed") != 1:
        print("batch scoring: the model was not blessed, so nothing was pushed and nothing is scored")
        predictions.set_int_custom_property(SCORED_PROPERTY, 0)
        return
    import tensorflow as tf
    files = sorted(tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz")))
    if not files:
        raise FileNotFoundError(f"the examples artifact has no files in its {split!r} split")
    with beam_pipeline as pipeline:
        _ = (pipeline
             | "ExampleFiles" >> beam.Create(files)
             | "ReadQuestionBlocks" >> beam.ParDo(ReadQuestionBlocks(batch_size))
             | "Score" >> ScoreQuestions(pushed_model.uri, pushed_model.get_string_custom_property("pushed_version"),
                                         predictions.uri))
    predictions.set_int_custom_property(SCORED_PROPERTY, 1)


def read_predictions(predictions_dir: str) -> pd.DataFrame:
    """Every shard the step wrote, as one frame (text columns as strings, an empty true label kept as '')."""
    import tensorflow as tf  # tf.io.gfile reads local folders and cloud storage alike
    files = sorted(tf.io.gfile.glob(os.path.join(predictions_dir, f"{PREDICTIONS_PREFIX}*{PREDICTIONS_SUFFIX}")))
    if not files:
        raise FileNotFoundError(f"no prediction shards in {predictions_dir}")
    frames = []
    for path in files:
        with tf.io.gfile.GFile(path) as handle:
            frames.append(pd.read_csv(handle, dtype={features.QUESTION: str, TRUE_LABEL: str, PREDICTED_LABEL: str,
                                                     MODEL_VERSION: str}, keep_default_na=False))
    return pd.concat(frames, ignore_index=True)[COLUMNS]
