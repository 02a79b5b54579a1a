"""The seed's approach, re-done for comparison: one plain Keras script, no pipeline.

TextVectorization(standardize='lower', max_tokens=10000, output_sequence_length=50) adapted on the
training text; Embedding(10001, 16) -> Dropout(0.5) -> GlobalAveragePooling1D -> Dense(16, relu) ->
Dropout(0.5) -> Dense(1), a sigmoid on export; Adam, binary cross-entropy from logits, batch 64,
10 epochs, 20% of the training data held out for validation; then model.predict on the test split.

Run: python -m bench.seed_style --prepared-dir outputs/data --out result.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.metrics import accuracy_score, roc_auc_score

import features
from dataprep import splits


def run(prepared_dir: Path, epochs: int, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    train, test = splits.read_split(prepared_dir, "train"), splits.read_split(prepared_dir, "test")
    y_train = (train[features.LABEL] == features.POST).to_numpy().astype("float32")
    vectorize = tf.keras.layers.TextVectorization(standardize="lower", max_tokens=10000, output_sequence_length=50)
    vectorize.adapt(train[features.QUESTION].to_numpy())
    model = tf.keras.Sequential([
        tf.keras.layers.Embedding(10001, 16),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0)])
    x_train = vectorize(train[features.QUESTION].to_numpy())
    fit_started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.2, verbose=0)
    train_seconds = time.perf_counter() - fit_started
    export = tf.keras.Sequential([vectorize, model, tf.keras.layers.Activation("sigmoid")])
    predict_started = time.perf_counter()
    probability = export.predict(tf.constant(test[features.QUESTION].to_numpy()), batch_size=256, verbose=0)[:, 0]
    predict_seconds = time.perf_counter() - predict_started
    truth = (test[features.LABEL] == features.POST).to_numpy()
    return {"train_seconds": train_seconds, "predict_seconds": predict_seconds,
            "script_seconds_after_imports": time.perf_counter() - started,
            "test_auc": float(roc_auc_score(truth, probability)),
            "test_accuracy": float(accuracy_score(truth, probability >= features.DECISION_THRESHOLD)),
            "test_rows": int(len(test)), "predicted_post_rate": float(np.mean(probability >= 0.5))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.prepared_dir, args.epochs, args.seed), indent=2) + "\n")


if __name__ == "__main__":
    main()
