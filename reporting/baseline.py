"""The yardstick every model is compared with: TF-IDF features and logistic regression, trained on the same split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

import features


@dataclasses.dataclass(frozen=True)
class Baseline:
    """TF-IDF (words and word pairs) + logistic regression, fitted once on a train split."""
    vectorizer: TfidfVectorizer
    model: LogisticRegression

    @classmethod
    def fit(cls, train: pd.DataFrame, seed: int) -> Baseline:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        model = LogisticRegression(max_iter=2000, random_state=seed)
        model.fit(vectorizer.fit_transform(train[features.QUESTION]), train[features.LABEL] == features.POST)
        return cls(vectorizer, model)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """P(Post) for each row's question."""
        return self.model.predict_proba(self.vectorizer.transform(frame[features.QUESTION]))[:, 1]


def tfidf_baseline(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> np.ndarray:
    """Fit on ``train``, P(Post) for the ``test`` rows (the benchmarks' one-off use)."""
    return Baseline.fit(train, seed).predict(test)
