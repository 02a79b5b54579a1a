"""The TF-IDF + logistic regression yardstick learns from the train rows only, and scores the test rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import features
from reporting.baseline import tfidf_baseline


def frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[features.QUESTION, features.LABEL])


def test_the_baseline_learns_from_the_train_rows_and_never_from_the_test_rows():
    """Train and test disagree on purpose: 'charger' questions are Post in train and Pre in test. A baseline
    fitted on the train rows must score the test's 'charger' questions as Post (and so rank the test split
    backwards); one that saw the test labels would rank it right."""
    train = frame([(f"where is the charger {i}", features.POST) for i in range(20)]
                  + [(f"what color is it {i}", features.PRE) for i in range(20)])
    test = frame([(f"the charger {i} question", features.PRE) for i in range(10)]
                 + [(f"which color {i} question", features.POST) for i in range(10)])
    probability = tfidf_baseline(train, test, seed=0)
    assert len(probability) == len(test)
    assert np.all(probability[:10] > 0.5) and np.all(probability[10:] < 0.5), probability
    assert roc_auc_score(test[features.LABEL] == features.POST, probability) == 0.0
