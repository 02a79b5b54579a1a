"""Streamlit app: ask the served model whether a question was asked before or after buying.

It talks to the model server over gRPC (TensorFlow Serving, or the local
stand-in) through serving.client; it never loads the model itself. One function
per tab; the logic lives beside this file (app/batch.py, app/loaders.py).
Run: ``./run.sh app`` (address and ports from config.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit runs this file as a script with its own folder first on sys.path, where this file would shadow the
# app package; the project root goes first so that ``app.<module>`` imports resolve to the package.
_ROOT = str(Path(__file__).resolve().parent.parent)
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from app import batch, loaders, rollout_view  # noqa: E402
from common import config as configs  # noqa: E402
from common.outputs import BATCH_INFERENCE_FILE  # noqa: E402
from deploy.rollout import RolloutError  # noqa: E402
from monitoring import dashboard, feedback  # noqa: E402
from reporting import evaluation_file, explain, run_document, server_load  # noqa: E402
from serving.client import (  # noqa: E402
    LABEL_OUTPUT,
    MAX_QUESTION_CHARS,
    POST,
    PRE,
    PROBABILITY_OUTPUT,
    QUESTION,
    ModelClient,
    Prediction,
    ServingClientError,
)

CHART_METRICS = ("auc", "binary_accuracy", "precision", "recall")
ANSWER = "answer"  # session_state key: the last question's explanation, shown until the next question


def correction_buttons(prediction: Prediction, feedback_file: Path, key: str) -> None:
    """Right / Wrong: the person's verdict goes to the corrections file that the next pipeline run trains on."""
    def mark(right: bool) -> None:
        label = feedback.corrected_label(prediction.label, right)
        added = feedback.record(feedback_file, prediction.question, label, prediction.model_version)
        st.session_state["correction_note"] = (f"Thanks: recorded as {label} for the next training run." if added
                                               else f"Already recorded as {label}.")
    st.write("Was this answer right?")
    right, wrong = st.columns(2)
    right.button("Right", key=f"{key}-right", on_click=mark, args=(True,))
    wrong.button("Wrong", key=f"{key}-wrong", on_click=mark, args=(False,))


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
    load_view(client)


def load_view(client: ModelClient) -> None:
    """Request rate and p50 latency from the server's Prometheus endpoint, since this session last looked."""
    try:
        snapshot = server_load.parse(client.metrics_text(), client.model_name)
    except ServingClientError as error:
        st.sidebar.caption(f"no metrics from the server ({error.kind})")
        return
    load = server_load.load_between(snapshot, st.session_state.get("metrics_snapshot"))
    since = "since the last look" if "metrics_snapshot" in st.session_state else "since the server started"
    st.session_state["metrics_snapshot"] = snapshot
    rate = f"{load.per_second:.1f} requests/s" if load.per_second is not None else f"{load.requests:.0f} requests"
    p50 = f"p50 {load.p50_ms:.1f} ms" if load.p50_ms is not None else "p50 -"
    st.sidebar.caption(f"Load {since}: {rate}, {p50}")


def ask_tab(client: ModelClient, feedback_file: Path) -> None:
    """A form, so typing does not rerun anything; the answer stays in session_state until the next question."""
    with st.form("ask"):
        question = st.text_area("Customer question", placeholder="e.g. Does this blender come with a travel cup?",
                                key="question")
        submitted = st.form_submit_button("Predict", type="primary", key="predict")
    if submitted:
        ask(client, question)
    if ANSWER in st.session_state:
        explanation = st.session_state[ANSWER]
        answer_view(explanation)
        correction_buttons(Prediction(explanation.question, explanation.label, explanation.probability_post,
                                      explanation.model_version), feedback_file, "ask-correction")
    if note := st.session_state.pop("correction_note", None):
        st.success(note)


def ask(client: ModelClient, question: str) -> None:
    """One request: the question and its one-word-shorter variants (the answer is the first row)."""
    st.session_state.pop(ANSWER, None)
    if not question.strip():
        st.warning("Type a question first.")
        return
    if len(question.strip()) > MAX_QUESTION_CHARS:
        st.warning(f"That question has {len(question.strip())} characters; the limit is {MAX_QUESTION_CHARS}.")
        return
    try:
        st.session_state[ANSWER] = explain.explain(client, question)
    except ServingClientError as error:
        show_error(error, client)


def answer_view(explanation: explain.Explanation) -> None:
    """The answer, its confidence and why: each word coloured by its leave-one-word-out effect on P(Post)."""
    when = "before the purchase" if explanation.label == PRE else "after the purchase"
    st.subheader(f"Prediction: {explanation.label} ({when})")
    st.metric("P(Post)", f"{explanation.probability_post:.3f}")
    st.progress(explanation.confidence, text=f"confidence {explanation.confidence:.0%}")
    st.caption(f"model version {explanation.model_version}")
    st.markdown("**Why this answer**")
    st.markdown(explain.highlighted_html(explanation), unsafe_allow_html=True)
    strongest = ", ".join(f"{w.word} ({w.effect:+.3f} toward {POST if w.effect > 0 else PRE})"
                          for w in explanation.strongest())
    st.caption(f"{explain.LEGEND} Strongest: {strongest or 'none (a one-word question)'}.")


def batch_tab(client: ModelClient, feedback_file: Path) -> None:
    """Every uploaded row comes back: scored, or with a status saying why not; scored once per file."""
    upload = st.file_uploader("CSV with a 'question' column", type=["csv"], key="batch_file")
    if upload is None:
        return
    try:
        result = loaders.scored_upload(upload.getvalue(), client)
    except batch.UploadError as error:
        st.error(str(error))
        return
    except ServingClientError as error:
        show_error(error, client)
        return
    message = batch.counts_message(result)
    (st.success if result[batch.STATUS].eq(batch.SCORED).all() else st.warning)(message)
    st.dataframe(result, width="stretch")
    st.download_button("Download predictions CSV", batch.as_csv(result), file_name=BATCH_INFERENCE_FILE, mime="text/csv")
    scored = result[result[batch.STATUS] == batch.SCORED]
    if scored.empty:
        return
    picked = st.selectbox("Mark an answer right or wrong", scored.index, key="batch_pick",
                          format_func=lambda i: f"{scored.at[i, QUESTION]} -> {scored.at[i, LABEL_OUTPUT]}")
    correction_buttons(Prediction(scored.at[picked, QUESTION], scored.at[picked, LABEL_OUTPUT],
                                  float(scored.at[picked, PROBABILITY_OUTPUT]), None), feedback_file, "batch-correction")
    if note := st.session_state.pop("correction_note", None):
        st.success(note)


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
    try:
        document = loaders.run_document(str(summary_path), summary_path.stat().st_mtime)
    except run_document.RunDocumentError as error:
        st.error(str(error))
        return
    if document.pretrained_weights:
        st.write(f"Built from pretrained weights: {document.pretrained_weights}")
    evaluator = document.evaluator_eval_split.metrics if document.evaluator_eval_split else {}
    chart = pd.DataFrame({"eval split (TFMA)": {m: evaluator.get(m) for m in CHART_METRICS}})
    st.subheader("Latest evaluation")
    st.bar_chart(chart)
    tfx_model, check = document.test_split.tfx_model, document.check_set
    if tfx_model is not None:
        st.write(f"Test split AUC: TFX model **{tfx_model.auc:.4f}** vs TF-IDF + logistic regression "
                 f"**{document.test_split.tfidf_logistic_regression.auc:.4f}**")
    if check is not None and tfx_model is not None:
        st.write(f"Hand-written check set ({check.examples} questions): accuracy **{check.accuracy:.4f}**, "
                 f"AUC **{check.auc:.4f}**; test split: accuracy **{tfx_model.accuracy:.4f}**, AUC **{tfx_model.auc:.4f}**")


def evaluation_tab(output_dir: Path) -> None:
    path = evaluation_file.evaluation_path(output_dir)
    document = loaders.evaluation(str(output_dir), path.stat().st_mtime if path.is_file() else 0.0)
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
    matrix = pd.DataFrame({f"predicted {POST}": [int(row["tp"]), int(row["fp"])],
                           f"predicted {PRE}": [int(row["fn"]), int(row["tn"])]},
                          index=[f"true {POST}", f"true {PRE}"])
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


def monitoring_tab(config: configs.Config, client: ModelClient) -> None:
    """The request log and the latest skew/drift check (``./run.sh monitor`` writes it)."""
    st.button("Refresh", key="monitoring_refresh")
    try:
        counts = dashboard.log_counts(client.metrics_text(), client.model_name)
    except ServingClientError:
        counts = None
    if client.request_log is not None:
        counts = {"logged": client.request_log.logged, "dropped": client.request_log.dropped}
    questions, latest = dashboard.logged_requests(config.serving.logging.filename_prefix)
    st.subheader("Request log")
    tally = (f"Logged {counts['logged']:.0f}, dropped {counts['dropped']:.0f} since the server started"
             if counts else "No logged/dropped counts from the server")
    st.write(f"{tally}; {dashboard.counted(questions, 'question')} in the newest log files.")
    st.table(latest)  # plain HTML, so the newest questions can be read and copied
    check = dashboard.latest_check(config.monitoring.output_dir)
    if check is None:
        st.info("No monitoring check yet: run `./run.sh monitor` (or `./run.sh monitor --simulate`).")
        return
    st.subheader(f"Latest check ({check['checked_at']}, model version {check['model_version']})")
    if check["alert"]:
        st.error(f"ALERT: skew or drift over a threshold in {dashboard.counted(check['rows'], 'logged question')}")
    else:
        st.success(f"OK: every distance under its threshold in {dashboard.counted(check['rows'], 'logged question')}")
    shares = dashboard.distributions(config.monitoring.output_dir)
    if shares is not None:
        long = shares.melt(id_vars=["feature", "value"], value_vars=["training", "serving"], var_name="data",
                           value_name="share")
        st.altair_chart(alt.Chart(long).mark_bar().encode(
            x=alt.X("share", title="share"), y=alt.Y("value", sort=None, title=None), yOffset="data", color="data",
            row=alt.Row("feature", title=None)).resolve_scale(y="independent").properties(width=420))
    over_time = dashboard.distances_over_checks(config.monitoring.output_dir)
    st.altair_chart(alt.Chart(over_time).mark_line(point=True).encode(
        x=alt.X("check:O", title="check (oldest first)"), y=alt.Y("ratio", title="distance / threshold"),
        color="feature", strokeDash="kind", tooltip=["checked_at", "kind", "feature", "value", "threshold"]
    ).properties(height=240) + alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="red").encode(y="y"),
        width="stretch")
    st.dataframe(pd.DataFrame(check["distances"]), hide_index=True, width="stretch", key="monitoring_distances")


def main() -> None:
    st.set_page_config(page_title="Pre or Post purchase?", page_icon="🛒")
    st.title("Was this asked before or after buying?")
    try:
        config = loaders.config()
    except configs.ConfigError as error:
        st.error(str(error))
        return
    client = loaders.client(config.serving.host, config.serving.model_name, config.serving.grpc_port,
                            config.serving.rest_port, config.serving.request_timeout_seconds)
    if config.serving.logging.client_side and config.serving.logging.sampling_rate > 0:
        client.request_log = loaders.request_log(str(config.serving.logging), config.serving.logging, client.model_name)
    sidebar(client)
    ask, batch, model, evaluation, monitoring = st.tabs(["Ask", "Batch", "Model", "Evaluation", "Monitoring"])
    feedback_file = feedback.feedback_path(config.pipeline.output_dir)
    with ask:
        ask_tab(client, feedback_file)
    with batch:
        batch_tab(client, feedback_file)
    with model:
        model_tab(client, config.pipeline.summary_path)
    with evaluation:
        evaluation_tab(config.pipeline.output_dir)
    with monitoring:
        monitoring_tab(config, client)
    rollout_section(config.serving)


main()
