"""Classification metrics of P(Post) scores against true labels, with the served model's decision rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

import features


def classification_metrics(true_labels: pd.Series, probability_post: np.ndarray) -> dict[str, float]:
    truth = (true_labels == features.POST).to_numpy()
    predicted = probability_post >= features.DECISION_THRESHOLD
    return {
        "examples": int(len(truth)),
        "auc": float(roc_auc_score(truth, probability_post)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "mean_probability_post": float(np.mean(probability_post)),
        "post_rate": float(np.mean(truth)),
    }
