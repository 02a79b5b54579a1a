"""Transform module: the one text pipeline used in training, evaluation and serving.

TFX's Transform component runs ``preprocessing_fn`` over the training split
with Beam (building the vocabulary) and saves it as a TensorFlow graph; the
trainer embeds that graph in every exported signature, so a question becomes
the same token ids at training time and at serving time (no skew).

Token ids: 0 = padding, 1..vocab_size = vocabulary (most frequent first),
vocab_size + 1 = out of vocabulary. Word / word-pair ids of the wide branch
(when ``wide_buckets`` is above 0): 0 = padding, 1..buckets = hash buckets.
Pretrained word rows (pretrained.py): 0 = padding, 1 = the start marker every
question begins with, 2.. = the encoder's whole words; words it lacks are left out.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

import features
import pretrained

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
    return tf.strings.regex_replace(lowered, f"[^{features.WORD_CHARACTERS}]+", " ")


def tokenize(questions: tf.Tensor) -> tf.RaggedTensor:
    """The cleaned words of each question, [batch, (words)]: split once, shared by every feature below."""
    return tf.strings.split(clean_text(questions))


def hashed_word_ngrams(words: tf.RaggedTensor, buckets: int) -> tf.RaggedTensor:
    """Each word and each pair of adjacent words, the question's start and end included, hashed to 0..buckets-1.

    'does it fit' -> 'does', 'it', 'fit', '<s> does', 'does it', 'it fit',
    'fit </s>': the bag of words and word pairs that the wide (linear) branch
    weighs, as TF-IDF + logistic regression does. A question without words
    still has '<s> </s>', so the bag is never empty. Hashing needs no
    vocabulary, so this adds no analyzer pass to Transform.
    """
    grams = tf.strings.ngrams(words, (1, 2), separator=" ", pad_values=("<s>", "</s>"), padding_width=1)
    return tf.strings.to_hash_bucket_fast(grams, buckets)


def pretrained_rows(words: tf.RaggedTensor, max_words: int) -> tf.RaggedTensor:
    """Each question's rows in the pretrained word vectors: the start row, then its words the encoder knows.

    A lookup table of ``pretrained.whole_words`` (constants in the graph: core ops only, no asset file),
    the list the PretrainedEmbeddings component encodes in the same order. Unknown words are dropped, not
    mapped to a shared vector, so they do not dilute the mean; the start row keeps a question of only
    unknown words from being empty.
    """
    vocabulary = pretrained.whole_words(max_words)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary), tf.range(pretrained.FIRST_WORD_ROW, pretrained.FIRST_WORD_ROW + len(vocabulary),
                                              dtype=tf.int64)),
        default_value=pretrained.PADDING_ROW)
    rows = tf.ragged.map_flat_values(table.lookup, words)
    rows = tf.ragged.boolean_mask(rows, rows != pretrained.PADDING_ROW)
    start = tf.fill([rows.nrows(), 1], tf.constant(pretrained.START_ROW, tf.int64))
    return tf.concat([start, rows], axis=1)


def word_bag_length(sequence_length: int) -> int:
    """Words and word pairs (start and end included) of a question of ``sequence_length`` words."""
    return 2 * sequence_length + 1


def pad_to_length(ids: tf.RaggedTensor, length: int) -> tf.Tensor:
    """Shift ids past the padding id, then cut or pad every row to ``length``."""
    return (ids + 1).to_tensor(default_value=PADDING_ID, shape=[None, length])


def length_bucket(words: tf.RaggedTensor) -> tf.Tensor:
    """Word count of each cleaned question -> its LENGTH_BUCKET_NAMES entry (an empty one counts as 1-5)."""
    counts = words.row_lengths()
    index = tf.searchsorted(tf.constant(LENGTH_BUCKET_STARTS, tf.int64), counts, side="right")
    return tf.gather(tf.constant(LENGTH_BUCKET_NAMES), index)


def first_person(words: tf.RaggedTensor) -> tf.Tensor:
    """'yes' when the question speaks in the first person (I, my, we, our...), else 'no'."""
    matches = tf.ragged.map_flat_values(tf.strings.regex_full_match, words, FIRST_PERSON_WORDS)
    return tf.where(tf.reduce_any(matches, axis=1), "yes", "no")


def slice_features(questions: tf.Tensor) -> dict[str, tf.Tensor]:
    """Features only TFMA's slicing specs read (through the transform_features signature), not the model."""
    words = tokenize(questions)
    return {features.QUESTION_LENGTH_BUCKET: length_bucket(words), features.FIRST_PERSON: first_person(words)}


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Question -> token ids, pretrained word rows and, where enabled, hashed words and word pairs; label -> 0/1."""
    questions = _as_vector(inputs[features.QUESTION])
    words = tokenize(questions)
    ids = tft.compute_and_apply_vocabulary(
        words, top_k=custom_config["vocab_size"], num_oov_buckets=1, vocab_filename=VOCABULARY_NAME)
    sequence_length = custom_config["sequence_length"]
    outputs = {features.transformed_name(features.QUESTION): pad_to_length(ids, sequence_length)}
    if custom_config.get("wide_buckets", 0) > 0:
        bag = hashed_word_ngrams(words, custom_config["wide_buckets"])
        outputs[features.transformed_name(features.QUESTION_WORD_BAG)] = pad_to_length(
            bag, word_bag_length(sequence_length))
    rows = pretrained_rows(words, custom_config["pretrained_words"])
    outputs[features.transformed_name(features.QUESTION_PRETRAINED)] = rows.to_tensor(
        default_value=pretrained.PADDING_ROW, shape=[None, sequence_length + 1])
    outputs.update(slice_features(questions))
    if features.LABEL in inputs:
        is_post = tf.equal(tf.strings.strip(_as_vector(inputs[features.LABEL])), features.POST)
        outputs[features.transformed_name(features.LABEL)] = tf.cast(is_post, tf.int64)
    return outputs
