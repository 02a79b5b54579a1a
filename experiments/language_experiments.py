"""Model experiments for natural questions: which text features help, measured in-process in minutes.

Trains trainer.build_model on the prepared splits with the Transform graph's
own text functions (preprocessing.tokenize, hashed_word_ngrams, pretrained_rows,
pad_to_length) and a vocabulary counted in Python the way
tft.compute_and_apply_vocabulary counts it, then reports test-split AUC, the
hand-written check set's accuracy and AUC and, with ``--holdout``, the second
hand-written set's (data/holdout_questions.csv: read it, never choose by it) for
each variant and seed. The winner is then confirmed with the real pipeline.
The pretrained word vectors are distilled once per run (pretrained.py; minutes).

Run: python -m experiments.language_experiments --prepared-dir outputs/data --out docs/language_experiments.json
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import accuracy_score, roc_auc_score

import features
import preprocessing
import pretrained
import trainer
from common import config as configs
from dataprep import splits as split_files
from evaluation import check_set
from reporting.baseline import tfidf_baseline

# Name -> changes to config.json's model section.
# Name -> changes to config.json's model section. Every variant names its branches, so each row means the
# same whatever config.json holds.
NO_WIDE = {"wide_buckets": 0}
SHORT = {"epochs": 2, "dropout": 0.5}
WIDE = {"wide_buckets": 2 ** 18, "wide_scale": 60.0}
NO_PRETRAINED = {"pretrained_dim": 0}  # the bench's own switch: build_model without pretrained vectors
VARIANTS: dict[str, dict[str, Any]] = {
    "words + wide (before)": {**SHORT, **WIDE, **NO_PRETRAINED},
    "words + wide + pretrained 64": {**SHORT, **WIDE, "pretrained_dim": 64},
    "words + wide + pretrained 128": {**SHORT, **WIDE, "pretrained_dim": 128},
    "words + wide + pretrained 256": {**SHORT, **WIDE, "pretrained_dim": 256},
    "words + wide + pretrained 384": {**SHORT, **WIDE, "pretrained_dim": 384},
    "words + pretrained 128 (no wide)": {**SHORT, **NO_WIDE, "pretrained_dim": 128},
    "words + wide + pretrained 128, 3 epochs": {**SHORT, **WIDE, "pretrained_dim": 128, "epochs": 3},
    "words + wide + pretrained 128, 10,000 words": {**SHORT, **WIDE, "pretrained_dim": 128, "pretrained_words": 10000},
}


def _vocabulary(questions: np.ndarray, size: int) -> list[bytes]:
    """The ``size`` most frequent tokens, most frequent first (as the Transform analyzer picks them)."""
    counts = collections.Counter(preprocessing.tokenize(tf.constant(questions)).values.numpy().tolist())
    return [token for token, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def _featurize(questions: np.ndarray, vocabulary: list[bytes], hp: dict[str, Any]) -> dict[str, np.ndarray]:
    """What the Transform graph makes of raw questions, computed eagerly."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)),
        default_value=len(vocabulary))
    words = preprocessing.tokenize(tf.constant(questions))
    ids = tf.ragged.map_flat_values(table.lookup, words)
    out = {trainer.QUESTION_XF: preprocessing.pad_to_length(ids, hp["sequence_length"]).numpy()}
    if hp["pretrained_dim"] > 0:
        rows = preprocessing.pretrained_rows(words, hp["pretrained_words"])
        out[trainer.PRETRAINED_XF] = rows.to_tensor(shape=[None, hp["sequence_length"] + 1]).numpy()
    if hp["wide_buckets"] > 0:
        bag = preprocessing.hashed_word_ngrams(words, hp["wide_buckets"])
        out[trainer.WORD_BAG_XF] = preprocessing.pad_to_length(
            bag, preprocessing.word_bag_length(hp["sequence_length"])).numpy()
    return out


def pretrained_vectors(hp: dict[str, Any], encoded: np.ndarray) -> np.ndarray | None:
    """The component's rows for these settings, from the encoder's vectors of all whole words (computed once)."""
    if hp["pretrained_dim"] == 0:
        return None
    kept = encoded[:1 + hp["pretrained_words"]]  # the start row, then the first pretrained_words words
    return np.concatenate([np.zeros((1, hp["pretrained_dim"]), np.float32), pretrained.distill(kept, hp["pretrained_dim"])])


def run_variant(splits: dict[str, pd.DataFrame], sets: dict[str, pd.DataFrame], hp: dict[str, Any], seed: int,
                encoded: np.ndarray) -> dict[str, float]:
    tf.keras.utils.set_random_seed(seed)
    train = splits["train"]
    vocabulary = _vocabulary(train[features.QUESTION].to_numpy(), hp["vocab_size"])
    x_train = _featurize(train[features.QUESTION].to_numpy(), vocabulary, hp)
    y_train = (train[features.LABEL] == features.POST).to_numpy().astype("float32")
    model = trainer.build_model(hp, pretrained_vectors(hp, encoded))
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=hp["batch_size"], epochs=int(hp["epochs"]), shuffle=True, verbose=0)
    result = {"train_seconds": round(time.perf_counter() - started, 1)}
    for name, frame in {"test": splits["test"], **sets}.items():
        probability = model.predict(_featurize(frame[features.QUESTION].to_numpy(), vocabulary, hp),
                                    batch_size=512, verbose=0)[:, 0]
        truth = (frame[features.LABEL] == features.POST).to_numpy()
        result[f"{name}_auc"] = float(roc_auc_score(truth, probability))
        result[f"{name}_accuracy"] = float(accuracy_score(truth, probability >= features.DECISION_THRESHOLD))
    return result


def encoded_words(cache: Path | None) -> np.ndarray:
    """The encoder's vectors of the start marker and every whole word (pretrained.word_vectors), cached as .npy."""
    if cache is not None and cache.is_file():
        return np.load(cache, allow_pickle=False)
    tokens = pretrained.vocabulary()
    encoded = pretrained.word_vectors(pretrained.whole_words(len(tokens), tokens), tokens, pretrained.load_weights())
    if cache is not None:
        np.save(cache, encoded, allow_pickle=False)
    return encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared-dir", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--holdout", type=Path, help="also score this hand-written set (data/holdout_questions.csv)")
    parser.add_argument("--encoded", type=Path, help="a .npy cache of the encoder's vectors of all whole words")
    args = parser.parse_args()
    model_config = dict(vars(configs.load().model))
    splits = {s: split_files.read_split(args.prepared_dir, s)
              for s in ("train", "test")}
    sets = {"check": check_set.read_check_set()}
    if args.holdout:
        sets["holdout"] = check_set.read_check_set(args.holdout)
    encoded = encoded_words(args.encoded)
    baseline = tfidf_baseline(splits["train"], splits["test"], seed=42)
    report: dict[str, Any] = {"tfidf_test_auc": float(roc_auc_score(splits["test"][features.LABEL] == features.POST,
                                                                      baseline)), "variants": {}}
    print(f"TF-IDF + logistic regression test AUC {report['tfidf_test_auc']:.4f}")
    for name in args.variants:
        hp = {**model_config, **VARIANTS[name]}
        runs = [run_variant(splits, sets, hp, seed, encoded) for seed in args.seeds]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        report["variants"][name] = {"settings": VARIANTS[name], "runs": runs, "mean": mean}
        scored = " | ".join(f"{s} AUC {mean[f'{s}_auc']:.4f} acc {mean[f'{s}_accuracy']:.4f}" for s in sets)
        print(f"{name:44s} test AUC {mean['test_auc']:.4f} | {scored} | {mean['train_seconds']:.0f} s", flush=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
