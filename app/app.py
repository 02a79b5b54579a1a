"""Streamlit app: ask the served model whether a question was asked before or after buying.

It talks to the model server over gRPC (TensorFlow Serving, or the local
stand-in) through serving.client; it never loads the model itself.
Run: ``./run.sh app`` (address and ports from config.json).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import streamlit as st

import features
from dataprep import splits
from pipeline import configs
from serving import metrics
from serving.client import ModelClient, ServingClientError

BATCH_CHUNK = 256
CHART_METRICS = ("auc", "binary_accuracy", "precision", "recall")


@st.cache_resource
def get_client(host: str, model_name: str, grpc_port: int, rest_port: int, timeout: float) -> ModelClient:
    return ModelClient(host, model_name, grpc_port=grpc_port, rest_port=rest_port, transport="grpc", timeout=timeout,
                       retries=1)


def show_error(error: ServingClientError, client: ModelClient) -> None:
    if error.kind in ("unavailable", "timeout"):
        st.error(f"The model server at {client.address} is not answering. Start it with `./run.sh serve`, "
                 "then retry.")
        st.button("Retry", key=f"retry-{error.kind}-{id(error)}")
    elif error.kind == "not_found":
        st.error(f"The server does not serve a model named {client.model_name!r}: {error}")
    else:
        st.error(f"The model could not answer: {error}")


def sidebar(client: ModelClient) -> None:
    st.sidebar.header("Model server")
    st.sidebar.write(f"gRPC `{client.address}`, model `{client.model_name}`")
    try:
        statuses = client.status()
        versions = [s["version"] for s in statuses if s["state"] == "AVAILABLE"]
        if versions:
            st.sidebar.success(f"answering: version {', '.join(versions)}")
        else:
            errors = "; ".join(s["status"]["error_message"] for s in statuses)
            st.sidebar.error(f"up, but no model version loaded: {errors}")
    except ServingClientError as error:
        st.sidebar.error(f"not answering ({error.kind})")
        st.sidebar.button("Check again", key="sidebar-retry")
        return
    server_load(client)


def server_load(client: ModelClient) -> None:
    """Request rate and p50 latency from the server's Prometheus endpoint, since this session last looked."""
    try:
        snapshot = client.server_metrics()
    except ServingClientError as error:
        st.sidebar.caption(f"no metrics from the server ({error.kind})")
        return
    load = metrics.load_between(snapshot, st.session_state.get("metrics_snapshot"))
    since = "since the last look" if "metrics_snapshot" in st.session_state else "since the server started"
    st.session_state["metrics_snapshot"] = snapshot
    rate = f"{load.per_second:.1f} requests/s" if load.per_second is not None else f"{load.requests:.0f} requests"
    p50 = f"p50 {load.p50_ms:.1f} ms" if load.p50_ms is not None else "p50 -"
    st.sidebar.caption(f"Load {since}: {rate}, {p50}")


def ask_tab(client: ModelClient) -> None:
    question = st.text_area("Customer question", placeholder="e.g. Does this blender come with a travel cup?",
                            key="question")
    if not st.button("Predict", type="primary", key="predict"):
        return
    if not question.strip():
        st.warning("Type a question first.")
        return
    if len(question.strip()) > features.MAX_QUESTION_CHARS:
        st.warning(f"That question has {len(question.strip())} characters; the limit is {features.MAX_QUESTION_CHARS}.")
        return
    try:
        prediction = client.predict([question])[0]
    except ServingClientError as error:
        show_error(error, client)
        return
    when = "before the purchase" if prediction.label == features.PRE else "after the purchase"
    st.subheader(f"Prediction: {prediction.label} ({when})")
    st.metric("P(Post)", f"{prediction.probability_post:.3f}")
    st.progress(prediction.confidence, text=f"confidence {prediction.confidence:.0%}")
    st.caption(f"model version {prediction.model_version}")


def batch_tab(client: ModelClient) -> None:
    upload = st.file_uploader("CSV with a 'question' column", type=["csv"], key="batch_file")
    if upload is None:
        return
    try:
        frame = splits.read_csv_as_text(upload)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        st.error(f"Could not read that file as CSV: {error}")
        return
    if features.QUESTION not in frame.columns:
        st.error(f"The file has no 'question' column (columns: {', '.join(frame.columns)}).")
        return
    frame = frame[frame[features.QUESTION].str.strip().str.len().between(1, features.MAX_QUESTION_CHARS)]
    if frame.empty:
        st.warning("No usable questions in the file (empty or over the length limit).")
        return
    predictions = []
    progress = st.progress(0.0, text="predicting")
    try:
        for start in range(0, len(frame), BATCH_CHUNK):
            predictions += client.predict(frame[features.QUESTION].iloc[start:start + BATCH_CHUNK].tolist())
            progress.progress(min(1.0, (start + BATCH_CHUNK) / len(frame)), text="predicting")
    except ServingClientError as error:
        show_error(error, client)
        return
    result = frame.assign(predicted_label=[p.label for p in predictions],
                          probability_post=[round(p.probability_post, 4) for p in predictions])
    st.dataframe(result, use_container_width=True)
    buffer = io.StringIO()
    result.to_csv(buffer, index=False)
    st.download_button("Download predictions CSV", buffer.getvalue(), file_name="predictions.csv", mime="text/csv")


def model_tab(client: ModelClient, summary_path: Path) -> None:
    try:
        metadata = client.metadata()
        st.write(f"**{client.model_name}**, version **{metadata['version']}**")
        st.write(f"`serving_default`: inputs {metadata['inputs']} -> outputs {metadata['outputs']}")
    except ServingClientError as error:
        show_error(error, client)
    if not summary_path.is_file():
        st.info(f"No metrics summary yet at {summary_path}: run the pipeline (`./run.sh`).")
        return
    summary = json.loads(summary_path.read_text())
    evaluator = summary.get("evaluator_eval_split", {}).get("metrics", {})
    chart = pd.DataFrame({"eval split (TFMA)": {m: evaluator.get(m) for m in CHART_METRICS}})
    st.subheader("Latest evaluation")
    st.bar_chart(chart)
    test = summary.get("test_split", {})
    if "tfx_model" in test:
        st.write("Test split AUC: TFX model **{:.4f}** vs TF-IDF + logistic regression **{:.4f}**".format(
            test["tfx_model"]["auc"], test["tfidf_logistic_regression"]["auc"]))


def main() -> None:
    st.set_page_config(page_title="Pre or Post purchase?", page_icon="🛒")
    st.title("Was this asked before or after buying?")
    try:
        config = configs.load()
    except configs.ConfigError as error:
        st.error(str(error))
        return
    client = get_client(config.serving.host, config.serving.model_name, config.serving.grpc_port,
                        config.serving.rest_port, config.serving.request_timeout_seconds)
    sidebar(client)
    ask, batch, model = st.tabs(["Ask", "Batch", "Model"])
    with ask:
        ask_tab(client)
    with batch:
        batch_tab(client)
    with model:
        model_tab(client, config.pipeline.summary_path)


main()
