"""Trainer module: the Keras model, its training loop and its exported signatures.

``run_fn`` reads top to bottom: load the Transform output, build datasets of
transformed examples, build and fit the model, then save it with three
signatures (see signatures.py) that each embed the same Transform graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

import features
import preprocessing
import pretrained
import signatures


def _autograph_leaves_tf_keras_alone() -> None:
    """AutoGraph leaves the ``keras`` package's code as it is, but TensorFlow 2.16 does not list ``tf_keras``, the same
    code under the legacy-Keras name: tracing the train step then transpiles Keras's own layers, most of the
    suite pipeline's Trainer (23 s without this rule, 5.5 s with it; fit on 400 rows 18.3 s and 1.5 s). Later
    TensorFlow releases list ``tf_keras`` beside ``keras``; this adds that rule to the pinned one."""
    from tensorflow.python.autograph.core import config as autograph_config
    if not any(rule.matches("tf_keras") for rule in autograph_config.CONVERSION_RULES):
        autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert("tf_keras"),
                                             *autograph_config.CONVERSION_RULES)


_autograph_leaves_tf_keras_alone()

QUESTION_XF = features.transformed_name(features.QUESTION)
PRETRAINED_XF = features.transformed_name(features.QUESTION_PRETRAINED)
WORD_BAG_XF = features.transformed_name(features.QUESTION_WORD_BAG)
LABEL_XF = features.transformed_name(features.LABEL)


def input_fn(file_pattern: list[str], data_accessor: DataAccessor,
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


def build_model(hp: dict[str, Any], pretrained_vectors: np.ndarray | None = None) -> tf.keras.Model:
    """Token ids (and, where given, pretrained word rows and hashed word and word-pair ids) -> P(Post).

    The deep branch sees the question three ways: the average of its word
    embeddings learned here (what words it uses), a max-pooled 3-word
    convolution (short phrases such as 'did not come' vs 'does it come') and,
    with ``pretrained_vectors``, the average of its words' vectors distilled
    from a pretrained sentence encoder (pretrained.py), frozen: what English
    knows about words the generator never used ('squeaks', 'wobbly' near
    'rattles', 'broken'). A hidden layer lets them interact, which a linear
    bag-of-words model cannot do. When
    ``wide_buckets`` is above 0, a wide branch adds to its logit one learned
    weight per hashed word and word pair (their mean, times ``wide_scale``):
    the linear bag of words and word pairs that TF-IDF + logistic regression
    is. A mean of about 20 small weights barely moves the logit, so
    ``wide_scale`` sets how far the wide branch can move it in a few epochs.
    """
    ids = tf.keras.Input(shape=(hp["sequence_length"],), dtype=tf.int64, name=QUESTION_XF)
    embedded = tf.keras.layers.Embedding(hp["vocab_size"] + 2, hp["embedding_dim"], name="embedding")(ids)
    # Padding (id 0) has its own learned vector, so a plain average needs no mask (and no Lambda layer,
    # which would tie the saved Keras model to this module).
    average = tf.keras.layers.GlobalAveragePooling1D(name="mean_of_words")(embedded)
    phrases = tf.keras.layers.Conv1D(hp["conv_filters"], 3, padding="same", activation="relu", name="phrases")(embedded)
    phrase_max = tf.keras.layers.GlobalMaxPooling1D(name="strongest_phrases")(phrases)
    inputs, views = [ids], [average, phrase_max]
    if pretrained_vectors is not None:
        rows = tf.keras.Input(shape=(hp["sequence_length"] + 1,), dtype=tf.int64, name=PRETRAINED_XF)
        lookup = tf.keras.layers.Embedding(*pretrained_vectors.shape, mask_zero=True, trainable=False,
                                           name="pretrained_embedding")
        # The mask leaves padding out of the mean; every question has its start row (preprocessing.pretrained_rows).
        inputs.append(rows)
        views.append(tf.keras.layers.GlobalAveragePooling1D(name="mean_of_pretrained_words")(lookup(rows)))
        # Set after the layer is built, not as an initializer, so the vectors are weights, not part of the config.
        lookup.set_weights([pretrained_vectors])
    hidden = tf.keras.layers.Concatenate()(views)
    hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    hidden = tf.keras.layers.Dense(hp["hidden_units"], activation="relu")(hidden)
    hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    logit = tf.keras.layers.Dense(1, name="deep_logit")(hidden)
    if hp.get("wide_buckets", 0) > 0:
        bag = tf.keras.Input(shape=(preprocessing.word_bag_length(hp["sequence_length"]),), dtype=tf.int64,
                             name=WORD_BAG_XF)
        inputs.append(bag)
        weights = tf.keras.layers.Embedding(hp["wide_buckets"] + 1, 1, mask_zero=True, name="wide_weights")(bag)
        # The mask leaves padding out of the mean; the bag is never empty (see preprocessing.hashed_word_ngrams).
        mean_weight = tf.keras.layers.GlobalAveragePooling1D(name="mean_wide_weight")(weights)
        wide_logit = tf.keras.layers.Rescaling(hp["wide_scale"], name="wide_logit")(mean_weight)
        logit = tf.keras.layers.Add(name="wide_and_deep_logit")([logit, wide_logit])
    probability = tf.keras.layers.Activation("sigmoid", name=signatures.PROBABILITY_OUTPUT)(logit)
    model = tf.keras.Model(inputs, probability)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hp["learning_rate"]),
        loss=tf.keras.losses.BinaryCrossentropy(),
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy(name="binary_accuracy")],
    )
    return model


def model_inputs(model: tf.keras.Model, transformed: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The transformed features the model takes, by input name (the label and unused features left out)."""
    return {name: transformed[name] for name in model.input_names}


def _probability(model: tf.keras.Model, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
    return tf.reshape(model(model_inputs(model, transformed)), [-1])


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


def load_pretrained_vectors(base_model: str | None) -> np.ndarray:
    """The PretrainedEmbeddings component's vectors, which the pipeline hands the Trainer as its base model."""
    if base_model is None:
        raise ValueError("the Trainer needs the PretrainedEmbeddings component's output as its base_model")
    return np.load(Path(base_model) / pretrained.VECTORS_FILE, allow_pickle=False)


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    hp = fn_args.custom_config
    tf.keras.utils.set_random_seed(hp["random_seed"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"], hp["random_seed"])
    evaluation = input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, hp["batch_size"])
    model = build_model(hp, load_pretrained_vectors(fn_args.base_model))
    model.fit(
        train,
        epochs=hp["epochs"],
        validation_data=evaluation,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=2,
    )
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=make_signatures(model, tf_transform_output))
