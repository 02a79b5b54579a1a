"""What each text feature of the Transform graph costs one question, side by side in one process.

Builds the text part of ``preprocessing_fn`` for several model-section
settings (words only, the wide branch's words and word pairs, the pretrained
word rows) from preprocessing.py's own functions, each as a ``tf.function``
with a small lookup table in place of the vocabulary, and calls them with
one question at a time, alternating call by call so that all see the same
machine noise.

Run: python -m experiments.text_graph_latency --calls 3000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import preprocessing
from experiments.single_question_latency import QUESTIONS

SEQUENCE_LENGTH = 50
# Name -> the text features made (the model section's settings that turn them on).
VARIANTS: dict[str, dict[str, Any]] = {
    "words": {},
    "words + wide": {"wide_buckets": 2 ** 18},
    "words + wide + pretrained rows": {"wide_buckets": 2 ** 18, "pretrained_words": 30522},
}


def text_graph(settings: dict[str, Any], table: tf.lookup.StaticHashTable) -> Callable[[tf.Tensor], list[tf.Tensor]]:
    """The model inputs preprocessing_fn makes from questions under ``settings``, as one tf.function."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def features(questions: tf.Tensor) -> list[tf.Tensor]:
        words = preprocessing.tokenize(questions)
        made = [preprocessing.pad_to_length(tf.ragged.map_flat_values(table.lookup, words), SEQUENCE_LENGTH)]
        if settings.get("wide_buckets", 0) > 0:
            bag = preprocessing.hashed_word_ngrams(words, settings["wide_buckets"])
            made.append(preprocessing.pad_to_length(bag, preprocessing.word_bag_length(SEQUENCE_LENGTH)))
        if settings.get("pretrained_words", 0) > 0:
            rows = preprocessing.pretrained_rows(words, settings["pretrained_words"])
            made.append(rows.to_tensor(shape=[None, SEQUENCE_LENGTH + 1]))
        return made

    return features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    vocabulary = sorted({w for q in QUESTIONS for w in preprocessing.clean_text(tf.constant([q])).numpy()[0].split()})
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)), default_value=len(vocabulary))
    fns = {name: text_graph(settings, table) for name, settings in VARIANTS.items()}
    inputs = [tf.constant([q]) for q in QUESTIONS]
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(args.calls + 50):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn(inputs[i % len(inputs)])
            if i >= 50:  # the first calls trace and warm up
                seconds[name].append(time.perf_counter() - started)
    result = {name: float(np.median(s) * 1e3) for name, s in seconds.items()}
    for name, median_ms in result.items():
        print(f"{name:32s} median {median_ms:.3f} ms per question")
    if args.out:
        args.out.write_text(json.dumps({"calls": args.calls, "median_ms": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
