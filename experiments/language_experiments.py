"""Model experiments for natural questions: which text features help, measured in-process in minutes.

Trains trainer.build_model on the prepared splits with the Transform graph's
own text functions (preprocessing.tokenize, hashed_ngrams, pad_to_length) and a
vocabulary counted in Python the way tft.compute_and_apply_vocabulary counts it,
then reports test-split AUC and the hand-written check set's accuracy and AUC
for each variant and seed. The winner is then confirmed with the real pipeline.

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
import trainer
from common import config as configs
from dataprep import splits as split_files
from evaluation import check_set
from reporting.baseline import tfidf_baseline

# Name -> changes to config.json's model section.
# Name -> changes to config.json's model section. Every variant names its branches, so each row means the
# same whatever config.json holds.
LETTERS_34 = {"ngram_buckets": 20000, "ngram_widths": [3, 4], "ngram_length": 128}
LETTERS_3 = {"ngram_buckets": 20000, "ngram_widths": [3], "ngram_length": 96}
NO_LETTERS = {"ngram_buckets": 0}
NO_WIDE = {"wide_buckets": 0}
SHORT = {"epochs": 2, "dropout": 0.5}
WIDE = {"wide_buckets": 2 ** 18, "wide_scale": 60.0}
VARIANTS: dict[str, dict[str, Any]] = {
    "words only (before)": {**NO_WIDE, **NO_LETTERS, "epochs": 4, "dropout": 0.3},
    "+ letter 3-grams": {**NO_WIDE, **LETTERS_3, "epochs": 4, "dropout": 0.3},
    "+ letter 3,4-grams": {**NO_WIDE, **LETTERS_34, "epochs": 4, "dropout": 0.3},
    "words only, 2 epochs": {**NO_WIDE, **NO_LETTERS, "epochs": 2, "dropout": 0.3},
    "3,4-grams, 2 epochs": {**NO_WIDE, **LETTERS_34, "epochs": 2, "dropout": 0.3},
    "3,4-grams, 2 epochs, dropout 0.5": {**NO_WIDE, **LETTERS_34, **SHORT},
    "3,4-grams, 2 epochs, dropout 0.5, rate 0.002": {**NO_WIDE, **LETTERS_34, **SHORT, "learning_rate": 0.002},
    "3,4-grams + wide, scale 1": {**LETTERS_34, **SHORT, **WIDE, "wide_scale": 1.0},
    "3,4-grams + wide, scale 10": {**LETTERS_34, **SHORT, **WIDE, "wide_scale": 10.0},
    "3,4-grams + wide, scale 30": {**LETTERS_34, **SHORT, **WIDE, "wide_scale": 30.0},
    "3,4-grams + wide, scale 60": {**LETTERS_34, **SHORT, **WIDE},
    "3,4-grams + wide, scale 100": {**LETTERS_34, **SHORT, **WIDE, "wide_scale": 100.0},
    "3-grams + wide": {**LETTERS_3, **SHORT, **WIDE},
    "words + wide": {**NO_LETTERS, **SHORT, **WIDE},
    "words + wide, batch 128": {**NO_LETTERS, **SHORT, **WIDE, "batch_size": 128},
    "words + wide, scale 30": {**NO_LETTERS, **SHORT, **WIDE, "wide_scale": 30.0},
    "words + wide, hidden 128": {**NO_LETTERS, **SHORT, **WIDE, "hidden_units": 128},
    "words + wide, 3 epochs": {**NO_LETTERS, **SHORT, **WIDE, "epochs": 3},
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
    if hp["ngram_buckets"] > 0:
        grams = preprocessing.hashed_ngrams(words, tuple(hp["ngram_widths"]), hp["ngram_buckets"])
        out[trainer.NGRAMS_XF] = preprocessing.pad_to_length(grams, hp["ngram_length"]).numpy()
    if hp["wide_buckets"] > 0:
        bag = preprocessing.hashed_word_ngrams(words, hp["wide_buckets"])
        out[trainer.WORD_BAG_XF] = preprocessing.pad_to_length(
            bag, preprocessing.word_bag_length(hp["sequence_length"])).numpy()
    return out


def run_variant(splits: dict[str, pd.DataFrame], checks: pd.DataFrame, hp: dict[str, Any], seed: int) -> dict[str, float]:
    tf.keras.utils.set_random_seed(seed)
    train = splits["train"]
    vocabulary = _vocabulary(train[features.QUESTION].to_numpy(), hp["vocab_size"])
    x_train = _featurize(train[features.QUESTION].to_numpy(), vocabulary, hp)
    y_train = (train[features.LABEL] == features.POST).to_numpy().astype("float32")
    model = trainer.build_model({**hp, "ngram_length": hp.get("ngram_length", 0)})
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=hp["batch_size"], epochs=int(hp["epochs"]), shuffle=True, verbose=0)
    result = {"train_seconds": round(time.perf_counter() - started, 1)}
    for name, frame in (("test", splits["test"]), ("check", checks)):
        probability = model.predict(_featurize(frame[features.QUESTION].to_numpy(), vocabulary, hp),
                                    batch_size=512, verbose=0)[:, 0]
        truth = (frame[features.LABEL] == features.POST).to_numpy()
        result[f"{name}_auc"] = float(roc_auc_score(truth, probability))
        result[f"{name}_accuracy"] = float(accuracy_score(truth, probability >= features.DECISION_THRESHOLD))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared-dir", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model_config = dict(vars(configs.load().model))
    splits = {s: split_files.read_split(args.prepared_dir, s)
              for s in ("train", "test")}
    checks = check_set.read_check_set()
    baseline = tfidf_baseline(splits["train"], splits["test"], seed=42)
    report: dict[str, Any] = {"tfidf_test_auc": float(roc_auc_score(splits["test"][features.LABEL] == features.POST,
                                                                      baseline)), "variants": {}}
    print(f"TF-IDF + logistic regression test AUC {report['tfidf_test_auc']:.4f}")
    for name in args.variants:
        hp = {**model_config, **VARIANTS[name]}
        runs = [run_variant(splits, checks, hp, seed) for seed in args.seeds]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        report["variants"][name] = {"settings": VARIANTS[name], "runs": runs, "mean": mean}
        print(f"{name:34s} test AUC {mean['test_auc']:.4f} acc {mean['test_accuracy']:.4f} | check AUC "
              f"{mean['check_auc']:.4f} acc {mean['check_accuracy']:.4f} | {mean['train_seconds']:.0f} s", flush=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
