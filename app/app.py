"""Streamlit app: ask the served model whether a question was asked before or after buying.

It talks to the model server over gRPC (TensorFlow Serving, or the local
stand-in) through serving.client; it never loads the model itself.
Run: ``./run.sh app`` (address and ports from config.json).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

import features
from dataprep import splits
from pipeline import configs
from reporting import evaluation_file, explain
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
    explanation_view(client, question)


def explanation_view(client: ModelClient, question: str) -> None:
    """Why this answer: each word coloured by its leave-one-word-out effect on P(Post)."""
    try:
        explanation = explain.explain(client, question)
    except ServingClientError as error:
        show_error(error, client)
        return
    st.markdown("**Why this answer**")
    st.markdown(explain.highlighted_html(explanation), unsafe_allow_html=True)
    strongest = ", ".join(f"{w.word} ({w.effect:+.3f} toward {features.POST if w.effect > 0 else features.PRE})"
                          for w in explanation.strongest())
    st.caption(f"{explain.LEGEND} Strongest: {strongest or 'none (a one-word question)'}.")


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
    check = summary.get("check_set")
    if check and "tfx_model" in test:
        st.write(f"Hand-written check set ({check['examples']} questions): accuracy **{check['accuracy']:.4f}**, "
                 f"AUC **{check['auc']:.4f}**; test split: accuracy **{test['tfx_model']['accuracy']:.4f}**, "
                 f"AUC **{test['tfx_model']['auc']:.4f}**")


@st.cache_data
def load_evaluation(output_dir: str, modified: float) -> dict | None:
    """The latest report's tables (``modified`` makes a new report reload)."""
    return evaluation_file.read(Path(output_dir))


def evaluation_tab(output_dir: Path) -> None:
    path = evaluation_file.evaluation_path(output_dir)
    document = load_evaluation(str(output_dir), path.stat().st_mtime if path.is_file() else 0.0)
    if document is None:
        st.info(f"No evaluation yet at {path}: run the pipeline (`./run.sh pipeline`).")
        return
    verdict_view(document)
    threshold_view(document)
    slices_view(document)
    history_view(document)
    data_view(document)
    st.caption(f"Full report of this run (self-contained HTML): {document['report']}")


def verdict_view(document: dict) -> None:
    run, verdict = document["run"], document["verdict"]
    st.subheader(f"Run {run['id']}")
    if verdict["blessed"]:
        st.success(f"Blessed: passed every threshold; pushed version {run['pushed_version'] or 'none'}")
    else:
        st.error("Not blessed: a threshold failed, nothing was pushed; the previous version stays in service")
    checks = pd.DataFrame(verdict["checks"]).assign(passed=lambda f: f["passed"].map({True: "pass", False: "FAIL"}))
    st.dataframe(checks, hide_index=True, width="stretch", key="eval_checks")
    if verdict["has_baseline"]:
        st.caption("Change against the previously blessed model: " + ", ".join(
            f"{name} {value:+.4f}" for name, value in sorted(verdict["changes"].items())))
    else:
        st.caption("No baseline: no model had been blessed before this run.")


def threshold_view(document: dict) -> None:
    """Precision, recall, accuracy and the confusion matrix at a chosen threshold, from TFMA's ConfusionMatrixPlot."""
    table = document["thresholds"]
    st.subheader("Decision threshold (eval split)")
    threshold = st.slider("Call a question Post when P(Post) is at least", 0.0, 1.0,
                          float(document["decision_threshold"]), 0.01, key="eval_threshold")
    row = evaluation_file.at_threshold(table, threshold)
    precision, recall, accuracy = st.columns(3)
    precision.metric("Precision (Post)", f"{row['precision']:.3f}")
    recall.metric("Recall (Post)", f"{row['recall']:.3f}")
    accuracy.metric("Accuracy", f"{row['accuracy']:.3f}")
    matrix = pd.DataFrame({f"predicted {features.POST}": [int(row["tp"]), int(row["fp"])],
                           f"predicted {features.PRE}": [int(row["fn"]), int(row["tn"])]},
                          index=[f"true {features.POST}", f"true {features.PRE}"])
    st.dataframe(matrix, key="eval_confusion")
    point = alt.Chart(pd.DataFrame([row])).mark_point(size=120, filled=True, color="black")
    roc = alt.Chart(table).mark_line(color="#d62728").encode(
        x=alt.X("false_positive_rate", title="false positive rate"), y=alt.Y("recall", title="true positive rate"))
    pr = alt.Chart(table).mark_line(color="#2ca02c").encode(
        x=alt.X("recall", title="recall"), y=alt.Y("precision", title="precision", scale=alt.Scale(domain=[0, 1])))
    st.altair_chart(alt.hconcat(
        (roc + point.encode(x="false_positive_rate", y="recall")).properties(title="ROC", width=260, height=220),
        (pr + point.encode(x="recall", y="precision")).properties(title="Precision-recall", width=260, height=220)))


def slices_view(document: dict) -> None:
    st.subheader("Metrics per slice (eval split)")
    model = document["slices"].rename(columns={"example_count": "examples", "auc": "model AUC",
                                               "binary_accuracy": "model accuracy"})
    baseline = document["baseline_slices"].rename(columns={"auc": "TF-IDF AUC", "accuracy": "TF-IDF accuracy"})
    table = model.merge(baseline.drop(columns="examples"), on=["slice", "value"], how="left")
    st.dataframe(table[["slice", "value", "examples", "model AUC", "TF-IDF AUC", "model accuracy", "TF-IDF accuracy",
                        "precision", "recall"]], hide_index=True, width="stretch", key="eval_slices")
    calibration = document["calibration"]
    if not calibration.empty:
        diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray")
        dots = alt.Chart(calibration).mark_circle(opacity=0.8).encode(
            x=alt.X("mean_prediction", title="mean predicted P(Post)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("post_rate", title="observed Post rate", scale=alt.Scale(domain=[0, 1])),
            size="examples", tooltip=["lower", "upper", "examples", "mean_prediction", "post_rate"])
        st.altair_chart((diagonal.encode(x="x", y="y") + dots).properties(title="Calibration", height=260))


def history_view(document: dict) -> None:
    st.subheader("Version history")
    history = document["history"].reset_index(names="order").assign(order=lambda f: f["order"] + 1)
    long = history.melt(id_vars=["order", "run", "blessed", "pushed_version"], value_vars=["eval_auc", "eval_accuracy"],
                        var_name="metric", value_name="value").dropna(subset=["value"])
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("order:O", title="pipeline run (oldest first)"), y=alt.Y("value", title="overall eval split"),
        color="metric", tooltip=["run", "metric", "value", "blessed", "pushed_version"]).properties(height=240),
        width="stretch")
    st.dataframe(history.drop(columns="order"), hide_index=True, width="stretch", key="eval_history")


def data_view(document: dict) -> None:
    st.subheader("Data (TFDV)")
    st.dataframe(document["splits"], hide_index=True, width="stretch", key="eval_splits")
    lengths = document["lengths"]
    if not lengths.empty:
        st.altair_chart(alt.Chart(lengths).mark_bar().encode(
            x=alt.X("length", sort=None, title="question length"), xOffset="split", y=alt.Y("share", title="share"),
            color="split", tooltip=["split", "length", "questions"]).properties(height=220), width="stretch")
    st.write("Most frequent words (train): " + ", ".join(f"`{t}`" for t in document["tokens"]))
    if document["anomalies"]:
        st.error("Data anomalies: " + "; ".join(document["anomalies"]))
    else:
        st.success("No data anomalies: every split matches the schema")
    with st.expander("Schema"):
        st.dataframe(document["schema"], hide_index=True, width="stretch", key="eval_schema")


def rollout_section(serving: configs.ServingConfig) -> None:
    """Stable and canary side by side for one question, each version's load, and promote with a confirmation."""
    try:  # `streamlit run` puts this script's folder first on sys.path (where "app" is this very file)
        import rollout_view
    except ModuleNotFoundError:  # AppTest does not: the project's app package is found
        from app import rollout_view
    from serving.rollout import RolloutError
    st.header("Rollout")
    labels = rollout_view.labels(serving)
    if not labels:
        st.caption(f"No version labels yet: the pipeline writes them to {serving.model_config_path} when it pushes.")
        return
    st.caption("Labels: " + ", ".join(f"{label} = version {version}" for label, version in labels.items()))
    question = st.text_input("Question for every labelled version", key="rollout_question")
    if st.button("Compare versions", key="rollout_compare"):
        if not question.strip():
            st.warning("Type a question first.")
        else:
            try:
                comparison = rollout_view.compare(serving, question.strip(), labels,
                                                  st.session_state.get("rollout_snapshots"))
            except ServingClientError as error:
                st.error(f"The model server could not answer: {error}")
            else:
                st.session_state["rollout_snapshots"] = comparison.snapshots
                st.session_state["rollout_table"] = comparison.table.set_index("label")
    if "rollout_table" in st.session_state:
        st.table(st.session_state["rollout_table"])
    canary = labels.get(serving.versions.canary_label)
    if canary is None:
        return
    confirmed = st.checkbox(f"Yes, make version {canary} ({serving.versions.canary_label}) the stable version",
                            key="rollout_confirm")
    if st.button("Promote canary", key="rollout_promote", disabled=not confirmed):
        try:
            promoted = rollout_view.promote(serving)
        except (RolloutError, ServingClientError) as error:
            st.error(str(error))
        else:
            st.success(f"Promoted: {promoted}; the server applies it within {serving.poll_seconds:g} s.")


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
    ask, batch, model, evaluation = st.tabs(["Ask", "Batch", "Model", "Evaluation"])
    with ask:
        ask_tab(client)
    with batch:
        batch_tab(client)
    with model:
        model_tab(client, config.pipeline.summary_path)
    with evaluation:
        evaluation_tab(config.pipeline.output_dir)
    rollout_section(config.serving)


main()
