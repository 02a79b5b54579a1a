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
# Question length slices: fixed word-count boundaries (not quantiles), so a slice means the same in every run.
LENGTH_BUCKET_STARTS = (6, 11, 21)
LENGTH_BUCKET_NAMES = ("1-5 words", "6-10 words", "11-20 words", "21+ words")
FIRST_PERSON_WORDS = r"i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours"


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


def length_bucket(questions: tf.Tensor) -> tf.Tensor:
    """Word count of each cleaned question -> its LENGTH_BUCKET_NAMES entry (an empty one counts as 1-5)."""
    counts = tf.strings.split(clean_text(questions)).row_lengths()
    index = tf.searchsorted(tf.constant(LENGTH_BUCKET_STARTS, tf.int64), counts, side="right")
    return tf.gather(tf.constant(LENGTH_BUCKET_NAMES), index)


def first_person(questions: tf.Tensor) -> tf.Tensor:
    """'yes' when the question speaks in the first person (I, my, we, our...), else 'no'."""
    words = tf.strings.split(clean_text(questions))
    matches = tf.ragged.map_flat_values(tf.strings.regex_full_match, words, FIRST_PERSON_WORDS)
    return tf.where(tf.reduce_any(matches, axis=1), "yes", "no")


def slice_features(questions: tf.Tensor) -> dict[str, tf.Tensor]:
    """Features only TFMA's slicing specs read (through the transform_features signature), not the model."""
    return {features.QUESTION_LENGTH_BUCKET: length_bucket(questions), features.FIRST_PERSON: first_person(questions)}


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Question -> fixed-length token ids (and hashed letter n-gram ids if enabled); label 'Pre'/'Post' -> 0/1."""
    questions = _as_vector(inputs[features.QUESTION])
    ids = tft.compute_and_apply_vocabulary(
        tokenize(questions), top_k=custom_config["vocab_size"], num_oov_buckets=1, vocab_filename=VOCABULARY_NAME)
    outputs = {features.transformed_name(features.QUESTION): pad_to_length(ids, custom_config["sequence_length"])}
    if custom_config.get("ngram_buckets", 0) > 0:
        grams = hashed_ngrams(questions, tuple(custom_config["ngram_widths"]), custom_config["ngram_buckets"])
        outputs[features.transformed_name(features.QUESTION_NGRAMS)] = pad_to_length(grams, custom_config["ngram_length"])
    outputs.update(slice_features(questions))
    if features.LABEL in inputs:
        is_post = tf.equal(tf.strings.strip(_as_vector(inputs[features.LABEL])), features.POST)
        outputs[features.transformed_name(features.LABEL)] = tf.cast(is_post, tf.int64)
    return outputs
