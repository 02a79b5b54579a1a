"""Transform module: the one text pipeline used in training, evaluation and serving.

TFX's Transform component runs ``preprocessing_fn`` over the training split
with Beam (building the vocabulary) and saves it as a TensorFlow graph; the
trainer embeds that graph in every exported signature, so a question becomes
the same token ids at training time and at serving time (no skew).

Token ids: 0 = padding, 1..vocab_size = vocabulary (most frequent first),
vocab_size + 1 = out of vocabulary. Letter n-gram ids (when ``ngram_buckets``
is above 0): 0 = padding, 1..ngram_buckets = hash buckets.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

import features

VOCABULARY_NAME = "question_vocabulary"
PADDING_ID = 0


def _as_vector(values: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """Raw string features arrive as [batch, 1] (dense or sparse); make them [batch]."""
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(values, default_value="")
    return tf.reshape(values, [-1])


def clean_text(questions: tf.Tensor) -> tf.Tensor:
    """Lower-case and keep letters, digits and apostrophes, so 'Fits?!' and 'fits' are one token."""
    lowered = tf.strings.lower(questions, encoding="utf-8")
    return tf.strings.regex_replace(lowered, r"[^\p{L}\p{N}']+", " ")


def tokenize(questions: tf.Tensor) -> tf.SparseTensor:
    return tf.strings.split(clean_text(questions)).to_sparse()


def hashed_ngrams(questions: tf.Tensor, widths: tuple[int, ...], buckets: int) -> tf.SparseTensor:
    """Each word's letter n-grams ('<fits>' -> '<fi', 'fit', 'its', 'ts>' for width 3), hashed to 0..buckets-1.

    A misspelt or unseen word ('stoped', 'descaling') still shares most of its
    n-grams with words the model has seen, which the word vocabulary cannot do.
    Hashing needs no vocabulary, so this adds no analyzer pass to Transform.
    """
    words = tf.strings.split(clean_text(questions))
    letters = tf.strings.unicode_split(tf.strings.join(["<", words, ">"]), "UTF-8")
    grams = tf.concat([tf.strings.ngrams(letters, width, separator="") for width in widths], axis=-1)
    return tf.strings.to_hash_bucket_fast(grams.merge_dims(1, 2), buckets).to_sparse()


def pad_to_length(ids: tf.SparseTensor, length: int) -> tf.Tensor:
    """Shift ids past the padding id, then cut or pad every row to ``length``."""
    shifted = tf.SparseTensor(ids.indices, ids.values + 1, ids.dense_shape)
    batch = tf.shape(shifted, out_type=tf.int64)[0]
    cut = tf.sparse.slice(shifted, [0, 0], [batch, length])
    dense = tf.sparse.to_dense(tf.sparse.reset_shape(cut, [batch, length]), default_value=PADDING_ID)
    dense.set_shape([None, length])
    return dense


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Question -> fixed-length token ids (and hashed letter n-gram ids if enabled); label 'Pre'/'Post' -> 0/1."""
    questions = _as_vector(inputs[features.QUESTION])
    ids = tft.compute_and_apply_vocabulary(
        tokenize(questions), top_k=custom_config["vocab_size"], num_oov_buckets=1, vocab_filename=VOCABULARY_NAME)
    outputs = {features.transformed_name(features.QUESTION): pad_to_length(ids, custom_config["sequence_length"])}
    if custom_config.get("ngram_buckets", 0) > 0:
        grams = hashed_ngrams(questions, tuple(custom_config["ngram_widths"]), custom_config["ngram_buckets"])
        outputs[features.transformed_name(features.QUESTION_NGRAMS)] = pad_to_length(grams, custom_config["ngram_length"])
    if features.LABEL in inputs:
        is_post = tf.equal(tf.strings.strip(_as_vector(inputs[features.LABEL])), features.POST)
        outputs[features.transformed_name(features.LABEL)] = tf.cast(is_post, tf.int64)
    return outputs
