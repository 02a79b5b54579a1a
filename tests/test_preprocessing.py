"""preprocessing_fn run with tf.Transform's Beam implementation on a few rows."""

import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

import features
import preprocessing
import pretrained

QUESTIONS = ["The cable broke", "the CABLE broke!!", "Does it fit?", "does it fit the cable", "zebra"]
LABELS = ["Post", "Post", "Pre", "Pre", "Pre"]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    spec = {features.QUESTION: tf.io.FixedLenFeature([1], tf.string),
            features.LABEL: tf.io.FixedLenFeature([1], tf.string)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    rows = [{features.QUESTION: [q.encode()], features.LABEL: [lab.encode()]} for q, lab in zip(QUESTIONS, LABELS, strict=True)]
    config = {"vocab_size": 4, "sequence_length": 4, "wide_buckets": 1000, "pretrained_words": 5000}
    fn = functools.partial(preprocessing.preprocessing_fn, custom_config=config)
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft")), force_tf_compat_v1=False):
        (data, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(fn, output_record_batches=False)
    return data


def ids(row) -> list[int]:
    return list(np.asarray(row[features.transformed_name(features.QUESTION)]))


def test_case_and_punctuation_do_not_change_the_ids(transformed):
    assert ids(transformed[0]) == ids(transformed[1])


def test_rows_are_padded_and_truncated_to_the_sequence_length(transformed):
    assert all(len(ids(row)) == 4 for row in transformed)
    assert ids(transformed[0])[3] == preprocessing.PADDING_ID  # 3 words, then padding
    assert preprocessing.PADDING_ID not in ids(transformed[3])  # 5 words cut to 4


def test_frequent_words_get_ids_and_rare_words_share_the_oov_id(transformed):
    oov = 4 + 1  # vocab_size + 1
    the, cable = ids(transformed[0])[0], ids(transformed[0])[1]
    assert {the, cable} <= {1, 2, 3, 4}  # 'the' and 'cable' are among the 4 most frequent words
    assert ids(transformed[4]) == [oov, 0, 0, 0]  # 'zebra' appears once


def test_labels_map_pre_to_0_and_post_to_1(transformed):
    label_xf = features.transformed_name(features.LABEL)
    assert [int(row[label_xf]) for row in transformed] == [1, 1, 0, 0, 0]


def test_clean_text_keeps_letters_digits_and_apostrophes():
    cleaned = preprocessing.clean_text(tf.constant(["Won't FIT 15-inch!? Café"])).numpy()[0].decode()
    assert cleaned.split() == ["won't", "fit", "15", "inch", "café"]


def rows(row) -> list[int]:
    return list(np.asarray(row[features.transformed_name(features.QUESTION_PRETRAINED)]))


def test_pretrained_rows_are_the_encoders_words_after_a_start_row(transformed):
    words = pretrained.whole_words(5000)
    row_of = {word: pretrained.FIRST_WORD_ROW + i for i, word in enumerate(words)}
    assert all(len(rows(row)) == 4 + 1 for row in transformed)  # sequence_length words and the start row
    assert rows(transformed[0]) == rows(transformed[1])  # case and punctuation do not matter
    assert rows(transformed[0]) == [pretrained.START_ROW, row_of["the"], row_of["cable"], row_of["broke"], 0]
    assert "zebra" not in row_of  # a word outside the first 5,000 is dropped, not a row of its own
    assert rows(transformed[4]) == [pretrained.START_ROW, 0, 0, 0, 0]


def test_words_the_encoder_lacks_are_left_out_and_no_question_is_empty():
    made = preprocessing.pretrained_rows(preprocessing.tokenize(tf.constant(["?!", "it qwzx fits"])), 30522)
    words = pretrained.whole_words(30522)
    assert made.to_list() == [[pretrained.START_ROW],
                              [pretrained.START_ROW] + [pretrained.FIRST_WORD_ROW + words.index(w) for w in ("it", "fits")]]


def bag(row) -> list[int]:
    return list(np.asarray(row[features.transformed_name(features.QUESTION_WORD_BAG)]))


def test_word_bag_is_hashed_words_and_pairs_padded_to_its_length(transformed):
    assert all(len(bag(row)) == preprocessing.word_bag_length(4) == 9 for row in transformed)
    assert bag(transformed[0]) == bag(transformed[1])  # case and punctuation do not matter
    assert all(0 <= g <= 1000 for row in transformed for g in bag(row))
    zebra = bag(transformed[4])  # 'zebra', '<s> zebra', 'zebra </s>', then padding
    assert preprocessing.PADDING_ID not in zebra[:3] and zebra[3:] == [preprocessing.PADDING_ID] * 6
    fit, fit_the = bag(transformed[2]), bag(transformed[3])  # 'does it fit' and 'does it fit the cable'
    assert fit[:3] == fit_the[:3]  # the same three words first


def test_word_bag_has_the_same_words_but_other_pairs_when_the_order_changes():
    forward, backward = (preprocessing.hashed_word_ngrams(preprocessing.tokenize(tf.constant([q])), 100000)[0].numpy()
                         for q in ("it broke", "broke it"))
    assert len(forward) == len(backward) == 5  # 2 words, 3 pairs with the start and end
    assert sorted(forward[:2]) == sorted(backward[:2]) and not set(forward[2:]) & set(backward[2:])


def test_a_question_without_words_still_has_a_word_bag():
    empty = preprocessing.hashed_word_ngrams(preprocessing.tokenize(tf.constant(["?!", "fits"])), 1000)
    assert empty.row_lengths().numpy().tolist() == [1, 3]
