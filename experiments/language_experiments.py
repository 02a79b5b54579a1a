"""Model experiments for natural questions: which text features help, measured in-process in minutes.

Trains trainer.build_model on the prepared splits with the Transform graph's
own text functions (preprocessing.tokenize, hashed_word_ngrams, pretrained_rows,
pad_to_length) and a vocabulary counted in Python the way
tft.compute_and_apply_vocabulary counts it, then reports test-split AUC, the
hand-written check set's accuracy and AUC and, with ``--holdout``, the second
hand-written set's (data/holdout_questions.csv: read it, never choose by it) for
each variant and seed. The winner is then confirmed with the real pipeline.
The pretrained word vectors are distilled once per run (pretrained.py; minutes).

The sentence-encoder variants read each question's embedding by the frozen
all-MiniLM-L6-v2 (experiments/sentence_encoder.py), computed once for every
split and set and cached with ``--sentences``: a small head on it, alone or
with its logit added to the wide & deep model's. Each variant's single-question
latency is the median of one-question calls of its whole graph (text features,
encoder where used, model), as one tf.function.

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
from experiments.sentence_encoder import WIDTH, SentenceEmbedder
from experiments.single_question_latency import QUESTIONS
from reporting.baseline import tfidf_baseline

SENTENCE_XF = "sentence_embedding"  # the bench's own model input: the question's frozen encoder embedding
ENCODE_BATCH = 32  # questions per encoder call when filling the cache, sorted by length so little is padding
LATENCY_CALLS = 300

# Name -> changes to config.json's model section. Every variant names its branches, so each row means the
# same whatever config.json holds.
NO_WIDE = {"wide_buckets": 0}
SHORT = {"epochs": 2, "dropout": 0.5}
WIDE = {"wide_buckets": 2 ** 18, "wide_scale": 60.0}
NO_PRETRAINED = {"pretrained_dim": 0}  # the bench's own switch: build_model without pretrained vectors
# The bench's own switch "sentence_head": "alone" (the encoder's embedding under a small head, nothing else) or
# "added" (that head's logit added to the wide & deep model's, as the wide branch's is).
VARIANTS: dict[str, dict[str, Any]] = {
    "words + wide (before)": {**SHORT, **WIDE, **NO_PRETRAINED},
    "words + wide + pretrained 64": {**SHORT, **WIDE, "pretrained_dim": 64},
    "words + wide + pretrained 128": {**SHORT, **WIDE, "pretrained_dim": 128},
    "words + wide + pretrained 256": {**SHORT, **WIDE, "pretrained_dim": 256},
    "words + wide + pretrained 384": {**SHORT, **WIDE, "pretrained_dim": 384},
    "words + pretrained 128 (no wide)": {**SHORT, **NO_WIDE, "pretrained_dim": 128},
    "words + wide + pretrained 128, 3 epochs": {**SHORT, **WIDE, "pretrained_dim": 128, "epochs": 3},
    "words + wide + pretrained 128, 10,000 words": {**SHORT, **WIDE, "pretrained_dim": 128, "pretrained_words": 10000},
    "sentence encoder + head": {**SHORT, **NO_WIDE, **NO_PRETRAINED, "sentence_head": "alone"},
    "sentence encoder + head, 10 epochs": {**SHORT, **NO_WIDE, **NO_PRETRAINED, "sentence_head": "alone", "epochs": 10},
    "words + wide + pretrained 128 + sentence encoder head": {**SHORT, **WIDE, "pretrained_dim": 128,
                                                              "sentence_head": "added"},
    "sentence encoder + head of 256, 20 epochs": {**SHORT, **NO_WIDE, **NO_PRETRAINED, "sentence_head": "alone",
                                                  "hidden_units": 256, "epochs": 20},
    "words + wide + sentence encoder head": {**SHORT, **WIDE, **NO_PRETRAINED, "sentence_head": "added"},
    **{f"words + wide (scale {scale}) + pretrained 128 + sentence encoder head": {
        **SHORT, **WIDE, "wide_scale": float(scale), "pretrained_dim": 128, "sentence_head": "added"} for scale in (10, 20, 30)},
}


def _vocabulary(questions: np.ndarray, size: int) -> list[bytes]:
    """The ``size`` most frequent tokens, most frequent first (as the Transform analyzer picks them)."""
    counts = collections.Counter(preprocessing.tokenize(tf.constant(questions)).values.numpy().tolist())
    return [token for token, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def _table(vocabulary: list[bytes]) -> tf.lookup.StaticHashTable:
    """The vocabulary's ids as the Transform graph gives them (out-of-vocabulary: its size)."""
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)),
        default_value=len(vocabulary))


def _text_features(questions: tf.Tensor, table: tf.lookup.StaticHashTable, hp: dict[str, Any]) -> dict[str, tf.Tensor]:
    """What the Transform graph makes of raw questions (the sentence embedding apart)."""
    words = preprocessing.tokenize(questions)
    ids = tf.ragged.map_flat_values(table.lookup, words)
    out = {trainer.QUESTION_XF: preprocessing.pad_to_length(ids, hp["sequence_length"])}
    if hp["pretrained_dim"] > 0:
        rows = preprocessing.pretrained_rows(words, hp["pretrained_words"])
        out[trainer.PRETRAINED_XF] = rows.to_tensor(shape=[None, hp["sequence_length"] + 1])
    if hp["wide_buckets"] > 0:
        bag = preprocessing.hashed_word_ngrams(words, hp["wide_buckets"])
        out[trainer.WORD_BAG_XF] = preprocessing.pad_to_length(bag, preprocessing.word_bag_length(hp["sequence_length"]))
    return out


def _featurize(questions: np.ndarray, sentences: np.ndarray, vocabulary: list[bytes], hp: dict[str, Any]
               ) -> dict[str, np.ndarray]:
    """The model's inputs for these questions, computed eagerly; ``sentences`` are their cached embeddings."""
    out = {name: value.numpy() for name, value in _text_features(tf.constant(questions), _table(vocabulary), hp).items()}
    out[SENTENCE_XF] = sentences
    return out


def build_model(hp: dict[str, Any], vectors: np.ndarray | None) -> tf.keras.Model:
    """trainer.build_model, or with "sentence_head" a small head on the sentence embedding (alone or added)."""
    if "sentence_head" not in hp:
        return trainer.build_model(hp, vectors)
    embedding = tf.keras.Input(shape=(WIDTH,), name=SENTENCE_XF)
    hidden = tf.keras.layers.Dropout(hp["dropout"])(embedding)
    hidden = tf.keras.layers.Dense(hp["hidden_units"], activation="relu")(hidden)
    hidden = tf.keras.layers.Dropout(hp["dropout"])(hidden)
    logit = tf.keras.layers.Dense(1, name="sentence_logit")(hidden)
    inputs = [embedding]
    if hp["sentence_head"] == "added":
        base = trainer.build_model(hp, vectors)
        inputs += base.inputs
        logit = tf.keras.layers.Add()([logit, base.get_layer("wide_and_deep_logit").output])
    model = tf.keras.Model(inputs, tf.keras.layers.Activation("sigmoid")(logit))
    model.compile(optimizer=tf.keras.optimizers.Adam(hp["learning_rate"]), loss=tf.keras.losses.BinaryCrossentropy())
    return model


def single_question_ms(model: tf.keras.Model, vocabulary: list[bytes], hp: dict[str, Any],
                       embedder: SentenceEmbedder) -> float:
    """Median milliseconds of one-question calls of the variant's whole graph: text features, encoder, model."""
    table = _table(vocabulary)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(questions: tf.Tensor) -> tf.Tensor:
        inputs = {} if hp.get("sentence_head") == "alone" else _text_features(questions, table, hp)
        if "sentence_head" in hp:
            inputs[SENTENCE_XF] = embedder(questions)
        return model({name: inputs[name] for name in model.input_names})

    questions = [tf.constant([q]) for q in QUESTIONS]
    seconds = []
    for i in range(LATENCY_CALLS + 20):
        started = time.perf_counter()
        serve(questions[i % len(questions)])
        if i >= 20:  # the first calls trace and warm up
            seconds.append(time.perf_counter() - started)
    return float(np.median(seconds) * 1e3)


def pretrained_vectors(hp: dict[str, Any], encoded: np.ndarray) -> np.ndarray | None:
    """The component's rows for these settings, from the encoder's vectors of all whole words (computed once)."""
    if hp["pretrained_dim"] == 0:
        return None
    kept = encoded[:1 + hp["pretrained_words"]]  # the start row, then the first pretrained_words words
    return np.concatenate([np.zeros((1, hp["pretrained_dim"]), np.float32), pretrained.distill(kept, hp["pretrained_dim"])])


def run_variant(sets: dict[str, pd.DataFrame], sentences: dict[str, np.ndarray], hp: dict[str, Any], seed: int,
                encoded: np.ndarray, embedder: SentenceEmbedder) -> dict[str, float]:
    """Train on sets["train"]; AUC and accuracy on every other set; the single-question latency."""
    tf.keras.utils.set_random_seed(seed)
    train = sets["train"]
    vocabulary = _vocabulary(train[features.QUESTION].to_numpy(), hp["vocab_size"])
    x_train = _featurize(train[features.QUESTION].to_numpy(), sentences["train"], vocabulary, hp)
    y_train = (train[features.LABEL] == features.POST).to_numpy().astype("float32")
    model = build_model(hp, pretrained_vectors(hp, encoded))
    started = time.perf_counter()
    model.fit({name: x_train[name] for name in model.input_names}, y_train, batch_size=hp["batch_size"],
              epochs=int(hp["epochs"]), shuffle=True, verbose=0)
    result = {"train_seconds": round(time.perf_counter() - started, 1)}
    for name, frame in sets.items():
        if name == "train":
            continue
        x = _featurize(frame[features.QUESTION].to_numpy(), sentences[name], vocabulary, hp)
        probability = model.predict({k: x[k] for k in model.input_names}, batch_size=512, verbose=0)[:, 0]
        truth = (frame[features.LABEL] == features.POST).to_numpy()
        result[f"{name}_auc"] = float(roc_auc_score(truth, probability))
        result[f"{name}_accuracy"] = float(accuracy_score(truth, probability >= features.DECISION_THRESHOLD))
    result["single_question_ms"] = single_question_ms(model, vocabulary, hp, embedder)
    return result


def sentence_embeddings(sets: dict[str, pd.DataFrame], embedder: SentenceEmbedder, cache: Path | None
                        ) -> tuple[dict[str, np.ndarray], float | None]:
    """Every set's questions through the frozen encoder, cached as one .npy in the sets' order.

    Returns the embeddings by set and, when they were computed here, the encoder's seconds per question.
    """
    questions = np.concatenate([frame[features.QUESTION].to_numpy() for frame in sets.values()])
    seconds_each = None
    if cache is not None and cache.is_file():
        embedded = np.load(cache, allow_pickle=False)
        if len(embedded) != len(questions):
            raise SystemExit(f"error: {cache} holds {len(embedded)} embeddings for {len(questions)} questions: "
                             "delete it to encode these sets")
    else:
        order = np.argsort([len(q) for q in questions], kind="stable")
        embedded = np.zeros((len(questions), WIDTH), np.float32)
        started = time.perf_counter()
        for i in range(0, len(order), ENCODE_BATCH):
            rows = order[i:i + ENCODE_BATCH]
            embedded[rows] = embedder(tf.constant(questions[rows])).numpy()
        seconds_each = (time.perf_counter() - started) / len(questions)
        if cache is not None:
            np.save(cache, embedded, allow_pickle=False)
    ends = np.cumsum([len(frame) for frame in sets.values()])
    return dict(zip(sets, np.split(embedded, ends[:-1]), strict=True)), seconds_each


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
    parser.add_argument("--sentences", type=Path, help="a .npy cache of the sets' sentence embeddings")
    args = parser.parse_args()
    model_config = dict(vars(configs.load().model))
    sets = {s: split_files.read_split(args.prepared_dir, s) for s in ("train", "test")}
    sets["check"] = check_set.read_check_set()
    if args.holdout:
        sets["holdout"] = check_set.read_check_set(args.holdout)
    encoded = encoded_words(args.encoded)
    embedder = SentenceEmbedder.from_package()
    sentences, seconds_each = sentence_embeddings(sets, embedder, args.sentences)
    baseline = tfidf_baseline(sets["train"], sets["test"], seed=42)
    report: dict[str, Any] = {"tfidf_test_auc": float(roc_auc_score(sets["test"][features.LABEL] == features.POST,
                                                                      baseline)), "variants": {}}
    if seconds_each is not None:
        report["encoder_ms_per_question"] = seconds_each * 1e3
        print(f"sentence encoder: {seconds_each * 1e3:.2f} ms per question (batches of {ENCODE_BATCH})")
    print(f"TF-IDF + logistic regression test AUC {report['tfidf_test_auc']:.4f}")
    scored_sets = [name for name in sets if name not in ("train", "test")]
    for name in args.variants:
        hp = {**model_config, **VARIANTS[name]}
        runs = [run_variant(sets, sentences, hp, seed, encoded, embedder) for seed in args.seeds]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        report["variants"][name] = {"settings": VARIANTS[name], "runs": runs, "mean": mean}
        scored = " | ".join(f"{s} AUC {mean[f'{s}_auc']:.4f} acc {mean[f'{s}_accuracy']:.4f}" for s in scored_sets)
        print(f"{name:44s} test AUC {mean['test_auc']:.4f} | {scored} | {mean['train_seconds']:.0f} s | "
              f"one question {mean['single_question_ms']:.2f} ms", flush=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
