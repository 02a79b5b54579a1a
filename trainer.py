"""Trainer module: the Keras model, its training loop and its exported signatures.

``run_fn`` reads top to bottom: load the Transform output, build datasets of
transformed examples, build and fit the model, then save it with three
signatures (see signatures.py) that each embed the same Transform graph.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

import features
import signatures

QUESTION_XF = features.transformed_name(features.QUESTION)
LABEL_XF = features.transformed_name(features.LABEL)


def input_fn(file_pattern: list[str], data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput, batch_size: int, seed: int | None = None) -> tf.data.Dataset:
    """Batches of (transformed features, label): one pass over the split, so a Keras epoch is a real epoch."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL_XF, shuffle_seed=seed, num_epochs=1),
        tf_transform_output.transformed_metadata.schema,
    ).map(without_slice_features)


def without_slice_features(transformed: dict[str, tf.Tensor], label: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """The slice features are for TFMA only: the model never sees them."""
    return {k: v for k, v in transformed.items() if k not in features.SLICE_FEATURES}, label


def build_model(hp: dict[str, Any]) -> tf.keras.Model:
    """Token ids -> P(Post).

    Two views of the question: the average of its word embeddings (what words
    it uses) and a max-pooled 3-word convolution (short phrases such as 'did
    not come' vs 'does it come'); a hidden layer lets them interact, which a
    linear bag-of-words model cannot do.
    """
    ids = tf.keras.Input(shape=(hp["sequence_length"],), dtype=tf.int64, name=QUESTION_XF)
    embedded = tf.keras.layers.Embedding(hp["vocab_size"] + 2, hp["embedding_dim"], name="embedding")(ids)
    # Padding (id 0) has its own learned vector, so a plain average needs no mask (and no Lambda layer,
    # which would tie the saved Keras model to this module).
    average = tf.keras.layers.GlobalAveragePooling1D(name="mean_of_words")(embedded)
    phrases = tf.keras.layers.Conv1D(hp["conv_filters"], 3, padding="same", activation="relu", name="phrases")(embedded)
    phrase_max = tf.keras.layers.GlobalMaxPooling1D(name="strongest_phrases")(phrases)
    hidden = tf.keras.layers.Concatenate()([average, phrase_max])
    hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    hidden = tf.keras.layers.Dense(hp["hidden_units"], activation="relu")(hidden)
    hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    probability = tf.keras.layers.Dense(1, activation="sigmoid", name=signatures.PROBABILITY_OUTPUT)(hidden)
    model = tf.keras.Model(ids, probability)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hp["learning_rate"]),
        loss=tf.keras.losses.BinaryCrossentropy(),
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy(name="binary_accuracy")],
    )
    return model


def _probability(model: tf.keras.Model, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
    return tf.reshape(model(transformed[QUESTION_XF]), [-1])


def make_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput) -> dict[str, Any]:
    """The exported signatures; each applies the Transform graph before the model."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    input_spec = {k: v for k, v in raw_spec.items() if k != features.LABEL}
    labels = tf.constant(features.LABEL_VALUES)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve_questions(questions: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer({features.QUESTION: tf.reshape(questions, [-1, 1])})
        probability = _probability(model, transformed)
        label_ids = tf.cast(probability >= features.DECISION_THRESHOLD, tf.int32)
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: tf.gather(labels, label_ids)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.EXAMPLES_INPUT)])
    def serve_examples(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(tf.io.parse_example(serialized, input_spec))
        return {signatures.PROBABILITY_OUTPUT: _probability(model, transformed)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.EXAMPLES_INPUT)])
    def transform_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    return {
        signatures.SERVING_DEFAULT: serve_questions.get_concrete_function(),
        signatures.SERVING_EXAMPLES: serve_examples.get_concrete_function(),
        signatures.TRANSFORM_FEATURES: transform_features.get_concrete_function(),
    }


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """TFX Trainer entry point."""
    hp = fn_args.custom_config
    tf.keras.utils.set_random_seed(hp["random_seed"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"], hp["random_seed"])
    evaluation = input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"])
    model = build_model(hp)
    model.fit(
        train,
        epochs=hp["epochs"],
        validation_data=evaluation,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=2,
    )
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=make_signatures(model, tf_transform_output))
