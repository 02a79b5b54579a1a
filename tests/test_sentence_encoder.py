"""The frozen sentence encoder in core TensorFlow (experiments/sentence_encoder.py) against BERT's reference steps.

The tokeniser is compared with a plain-Python transcription of BERT's BasicTokenizer + WordpieceTokenizer
(the algorithm sentence-transformers runs for this model), the encoder with pretrained.encode (NumPy), and
the saved graph with the ops the stock tensorflow/serving image has.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

import pretrained
from deploy import saved_model_ops
from evaluation import check_set
from experiments import sentence_encoder
from tests.helpers import ROOT

SENTENCES = ["does it come with a charger", "Mine SQUEAKS every time I sit down!!", "will it fit under my cabinets?",
             "café crème — naïve résumé", "unaffable xylophonist's 3.5mm jack, 10\"x12\"", "", "   ", "日本語 ok",
             "a" * 120 + " end", "zzqxj"]


@functools.cache
def tokens() -> list[str]:
    return pretrained.vocabulary()


@functools.cache
def tokenizer() -> sentence_encoder.WordPiece:
    return sentence_encoder.WordPiece(tokens())


def reference_pieces(text: str) -> list[str]:
    """BERT's uncased tokenisation (tokenization.py of google-research/bert), in plain Python."""
    vocabulary = set(tokens())
    text = "".join(" " if c in "\t\n\r" or unicodedata.category(c) == "Zs" else c for c in text
                   if not (ord(c) in (0, 0xFFFD) or (unicodedata.category(c).startswith("C") and c not in "\t\n\r")))
    text = "".join(f" {c} " if 0x4E00 <= ord(c) <= 0x9FFF else c for c in text)
    text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    words = "".join(f" {c} " if (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64 or 91 <= ord(c) <= 96
                                 or 123 <= ord(c) <= 126 or unicodedata.category(c).startswith("P")) else c
                    for c in text).split()
    pieces = []
    for word in words:
        start, cut = 0, []
        while start < len(word) and len(word) <= 100:
            end = len(word)
            while end > start and ("##" if start else "") + word[start:end] not in vocabulary:
                end -= 1
            if end == start:
                break
            cut.append(("##" if start else "") + word[start:end])
            start = end
        pieces.extend(cut if start == len(word) and len(word) <= 100 else ["[UNK]"])
    return pieces


def ids_of(text: str) -> list[int]:
    index = {t: i for i, t in enumerate(tokens())}
    return [index["[CLS]"], *[index[p] for p in reference_pieces(text)][:sentence_encoder.MAX_LENGTH - 2], index["[SEP]"]]


def test_the_tokeniser_cuts_words_into_the_longest_pieces_first():
    ids = tokenizer()(tf.constant(["Mine SQUEAKS!", "zzqxj", "a" * 101]))
    named = [[tokens()[i] for i in row if i] for row in ids.numpy()]
    assert named[0] == ["[CLS]", "mine", "squeak", "##s", "!", "[SEP]"]
    assert named[1] == ["[CLS]", "z", "##z", "##q", "##x", "##j", "[SEP]"]
    assert named[2] == ["[CLS]", "[UNK]", "[SEP]"]  # longer than BERT's 100 characters a word


def test_the_tokeniser_matches_bert_on_sentences_and_the_hand_written_questions():
    questions = SENTENCES + check_set.read_check_set()["question"].tolist()
    got = tokenizer()(tf.constant(questions)).numpy()
    for question, row in zip(questions, got, strict=True):
        assert [int(i) for i in row if i] == ids_of(question), question


def test_a_long_question_is_cut_to_the_maximum_length():
    ids = tokenizer()(tf.constant(["word " * 300])).numpy()
    assert ids.shape == (1, sentence_encoder.MAX_LENGTH)
    assert tokens()[ids[0, -1]] == "[SEP]"


def test_the_encoder_matches_the_numpy_forward_pass_with_padding_masked():
    weights = pretrained.load_weights()
    ids = tokenizer()(tf.constant(SENTENCES[:5]))
    got = sentence_encoder.Encoder(weights)(ids).numpy()
    for row, question in zip(got, SENTENCES[:5], strict=True):
        expected = pretrained.encode(np.array([ids_of(question)]), weights)[0]
        np.testing.assert_allclose(row, expected, atol=1e-4)


def small_weights() -> dict[str, np.ndarray]:
    """The packaged weights cut to 24 wide (2 per head) and a 48-wide FFN: the same graph, quick to save."""
    def cut(value: np.ndarray) -> np.ndarray:
        return value[tuple(slice(0, {384: 24, 1536: 48}.get(d, d)) for d in value.shape)]
    return {name: cut(value) for name, value in pretrained.load_weights().items()}


def test_the_saved_embedder_uses_only_core_tensorflow_ops(tmp_path):
    embedder = sentence_encoder.SentenceEmbedder(tokens(), small_weights(), max_length=16)
    tf.saved_model.save(embedder, str(tmp_path), signatures={"serving_default": embedder.__call__})
    result = subprocess.run([sys.executable, "-m", "deploy.saved_model_ops", str(tmp_path)], cwd=ROOT, text=True,
                            capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("all core TensorFlow ops")
    assert {"StringSplitV2", "LookupTableFindV2", "While", "BatchMatMulV2"} <= saved_model_ops.ops_used(tmp_path)
    served = tf.saved_model.load(str(tmp_path)).signatures["serving_default"](tf.constant(["does it fit", ""]))
    assert next(iter(served.values())).shape == (2, 24)


@pytest.mark.parametrize("question", ["", "!!!"])
def test_a_question_without_words_is_still_encoded(question):
    ids = tokenizer()(tf.constant([question]))
    embedding = sentence_encoder.Encoder(pretrained.load_weights())(ids).numpy()
    assert np.isfinite(embedding).all()
