"""One definition of a word (features.WORD_CHARACTERS): the explanation leaves out exactly the Transform graph's words."""

import pytest
import tensorflow as tf

import preprocessing
from reporting import explain

QUESTIONS = ["Does it fit?! (size 10½)", "Don't_like it — café №5, x/y", "l'écran est cassé...", "  ", "ÜBER-laut 42%"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_explanations_words_are_the_transform_graphs_tokens(question):
    tokens = [t.decode("utf-8") for t in preprocessing.tokenize(tf.constant([question])).to_list()[0]]
    assert [m.group().lower() for m in explain.WORD.finditer(question)] == tokens


def test_the_check_sees_a_different_word_definition(monkeypatch):
    import re
    monkeypatch.setattr(explain, "WORD", re.compile(r"\w+"))  # underscores and no apostrophes: not the graph's words
    question = QUESTIONS[1]
    tokens = [t.decode("utf-8") for t in preprocessing.tokenize(tf.constant([question])).to_list()[0]]
    assert [m.group().lower() for m in explain.WORD.finditer(question)] != tokens
