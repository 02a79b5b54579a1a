"""The monitoring report: one self-contained HTML page (inline SVG), rewritten after every check.

Training vs serving distributions side by side, each distance against its threshold over the checks so far,
and the verdict.
"""

from __future__ import annotations

import html

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from monitoring import records  # noqa: E402
from reporting.svg import inline_svg  # noqa: E402

WORD_BINS = (-1, 5, 10, 20, 40, 10_000)
WORD_LABELS = ("0-5 words", "6-10 words", "11-20 words", "21-40 words", "41+ words")
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}svg{max-width:100%;height:auto}"
         ".alert{color:#b00;font-weight:bold}"
         ".ok{color:#060;font-weight:bold}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}")


def shares(training: pd.DataFrame, serving: pd.DataFrame, feature: str, top: int = 10) -> pd.DataFrame:
    """Share of each value (the training split's most frequent ``top``) in training and in serving."""
    train, serve = training[feature].astype(str).value_counts(normalize=True), serving[feature].astype(str).value_counts(
        normalize=True)
    values = list(dict.fromkeys(list(train.index[:top]) + list(serve.index[:top])))
    return pd.DataFrame({"value": values, "training": [float(train.get(v, 0.0)) for v in values],
                         "serving": [float(serve.get(v, 0.0)) for v in values]})


def all_shares(training: pd.DataFrame, serving: pd.DataFrame) -> pd.DataFrame:
    """Every monitoring feature's value shares, training beside serving (the word count in the report's buckets)."""
    def bucketed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{records.WORDS: pd.cut(frame[records.WORDS], WORD_BINS, labels=WORD_LABELS).astype(str)})
    return pd.concat([shares(bucketed(training), bucketed(serving), feature).assign(feature=feature)
                      for feature in (records.WORDS, *records.CATEGORICAL)], ignore_index=True)


def distributions(training: pd.DataFrame, serving: pd.DataFrame) -> str:
    features = [records.WORDS, *records.CATEGORICAL]
    figure, axes = plt.subplots(1, len(features), figsize=(4 * len(features), 3))
    for axis, feature in zip(axes, features, strict=True):
        if feature in records.NUMERIC:
            bins = range(0, int(max(training[feature].max(), serving[feature].max())) + 2)
            axis.hist([training[feature], serving[feature]], bins=bins, density=True, label=["training", "serving"])
        else:
            table = shares(training, serving, feature)
            table.plot.barh(x="value", ax=axis, legend=False)
            axis.invert_yaxis()
        axis.set_title(feature)
    axes[0].legend(fontsize=8)
    return inline_svg(figure)


def distances_over_time(history: list[dict]) -> str:
    rows = [{"check": i + 1, **d} for i, line in enumerate(history) for d in line["distances"]]
    if not rows:
        return "<p>No distances yet.</p>"
    frame = pd.DataFrame(rows)
    kinds = sorted(frame["kind"].unique())
    figure, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 3), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        part = frame[frame["kind"] == kind]
        for feature, series in part.groupby("feature"):
            line = axis.plot(series["check"], series["value"] / series["threshold"], marker="o", label=feature)[0]
            line.set_linewidth(1.5)
        axis.axhline(1.0, color="#b00", linestyle="--", label="threshold")
        axis.set(title=f"{kind}: distance / threshold", xlabel="check (oldest first)")
        axis.legend(fontsize=7)
    return inline_svg(figure)


def render(window, history: list[dict]) -> str:
    result = window.result
    verdict = ('<p class="alert">ALERT: skew or drift over a threshold</p>' if result.alert
               else '<p class="ok">OK: every distance under its threshold</p>')
    table = pd.DataFrame([{"check": d.kind, "feature": d.feature, "measure": d.measure, "distance": d.value,
                           "threshold": d.threshold, "alert": "ALERT" if d.alert else ""} for d in result.distances])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Monitoring</title><style>{STYLE}</style>"
            f"</head><body><h1>Monitoring: model version {window.model_version}</h1>"
            f"<p>Checked {html.escape(window.checked_at)}: {window.rows} logged questions against "
            f"{window.training_rows} training questions; previous window {window.previous_rows}.</p>{verdict}"
            f"{table.to_html(index=False, border=0, float_format=lambda x: f'{x:.4f}')}"
            f"<h2>Training vs serving</h2>{distributions(window.training, window.serving)}"
            f"<h2>Distances over the checks</h2>{distances_over_time(history)}"
            "<p>Statistics and distances: TFDV (generate_statistics_from_dataframe, validate_statistics; "
            "L-infinity for categorical features, Jensen-Shannon divergence for the word count).</p></body></html>")
