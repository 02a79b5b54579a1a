"""The yardstick every model is compared with: TF-IDF features and logistic regression, trained on the same split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

import features


def tfidf_baseline(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> np.ndarray:
    """TF-IDF (words and word pairs) + logistic regression: P(Post) for the test rows."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(vectorizer.fit_transform(train[features.QUESTION]), train[features.LABEL] == features.POST)
    return model.predict_proba(vectorizer.transform(test[features.QUESTION]))[:, 1]
