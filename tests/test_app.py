"""The Streamlit app: its logic with AppTest, and a real browser (Debian's Chromium via Playwright)."""

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from reporting import explain, server_load
from reporting.evaluation_file import at_threshold
from tests.helpers import ARTIFACTS, BROWSER_ARGS, CHROMIUM, ROOT, free_port, running_app, server_config

APP = str(ROOT / "app" / "app.py")


@pytest.fixture
def app_env(model_server, pipeline_run, tmp_path, monkeypatch):
    results = pipeline_run["config"].pipeline.output_dir
    monkeypatch.setenv("PPQ_CONFIG", str(server_config(tmp_path, model_server, results)))


def run_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


def test_sidebar_shows_the_servers_request_rate_and_p50_latency(app_env, model_server):
    """The figures since the last look bound what the server counted: its requests over a window no longer
    than the test's own, and a median no longer than that window."""
    def served() -> float:
        return server_load.parse(model_server.metrics.exposition().decode(), model_server.manager.model_name).requests
    app = run_app()
    assert "Load since the server started:" in app.sidebar.caption[0].value
    app.text_area(key="question").input("Is the lid dishwasher safe?")
    before, started = served(), time.monotonic()
    app.button(key="predict").click().run()
    app.run()  # the prediction above falls between this look and the last
    window, asked = time.monotonic() - started, served() - before
    rate, p50 = re.search(r"since the last look: ([0-9.]+) requests/s, p50 ([0-9.]+) ms",
                          app.sidebar.caption[0].value).groups()
    assert asked >= 1 and float(rate) >= round(asked / window, 1) > 0 and 0 < float(p50) <= window * 1000


@pytest.mark.parametrize("question, message", [("   ", "Type a question first."), ("x" * 2001, "the limit is 2000")])
def test_empty_and_overlong_questions_get_a_message(app_env, question, message):
    app = run_app()
    app.text_area(key="question").input(question)
    app.button(key="predict").click().run()
    assert message in app.warning[0].value
    assert not [s for s in app.subheader if s.value.startswith("Prediction")]


def test_server_down_shows_a_message_and_a_retry(tmp_path, monkeypatch, model_server):
    class Dead:  # a server address where nothing listens
        manager, grpc_port, rest_port = model_server.manager, 1, 2
    monkeypatch.setenv("PPQ_CONFIG", str(server_config(tmp_path, Dead)))
    app = run_app()
    assert "not answering" in app.sidebar.error[0].value
    app.text_area(key="question").input("is it loud?")
    app.button(key="predict").click().run()
    assert not app.exception and "is not answering" in app.error[0].value
    assert any(b.label == "Retry" for b in app.button)


def _table_with(app: AppTest, column: str):
    tables = [d.value for d in app.dataframe if column in d.value.columns]
    assert len(tables) == 1, f"expected one table with a {column!r} column"
    return tables[0]


def test_evaluation_tab_threshold_slider_updates_precision_recall_and_confusion(app_env, evaluation_report):
    data = evaluation_report["data"]
    app = run_app()
    assert not app.exception
    slider = app.slider(key="eval_threshold")
    assert slider.value == 0.5
    for threshold in (0.5, 0.8):
        slider.set_value(threshold).run()
        row = at_threshold(data.thresholds, threshold)
        shown = {m.label: m.value for m in app.metric}
        assert shown["Precision (Post)"] == f"{row['precision']:.3f}" and shown["Recall (Post)"] == f"{row['recall']:.3f}"
        assert shown["Accuracy"] == f"{row['accuracy']:.3f}"
        matrix = _table_with(app, "predicted Post")
        assert matrix.loc["true Post", "predicted Post"] == row["tp"] and matrix.loc["true Pre", "predicted Pre"] == row["tn"]


def test_evaluation_tab_shows_verdict_slices_history_and_data(app_env, evaluation_report):
    data = evaluation_report["data"]
    app = run_app()
    assert not app.exception
    assert any(s.value.startswith("Blessed") for s in app.success) is data.verdict.blessed
    assert len(_table_with(app, "model AUC")) == len(data.slices)
    assert len(_table_with(app, "pushed_version")) == len(data.history)
    assert set(_table_with(app, "split")["split"]) == {"train", "eval", "test"}
    charts = charted_data(app)
    curves = charts["ROC"]  # one chart: ROC and precision-recall side by side
    assert "Precision-recall" in curves["titles"]
    expected = data.thresholds.sort_values("threshold").reset_index(drop=True)
    tables = [f for f in curves["frames"] if {"false_positive_rate", "recall", "precision"} <= set(f.columns)
              and len(f) > 1]  # the curves' data (the one-row frames are the slider's point)
    assert tables
    for table in tables:
        table = table.sort_values("threshold").reset_index(drop=True)
        for column in ("false_positive_rate", "recall", "precision"):
            np.testing.assert_allclose(table[column], expected[column], atol=1e-9, err_msg=column)
    buckets = [f for f in charts["Calibration"]["frames"] if {"mean_prediction", "post_rate"} <= set(f.columns)]
    assert buckets
    for frame in buckets:
        np.testing.assert_allclose(frame[["mean_prediction", "post_rate"]].to_numpy(),
                                   data.calibration[["mean_prediction", "post_rate"]].to_numpy(), atol=1e-9)


def chart_titles(spec):
    """The titles of a Vega-Lite spec and its sub-charts (a title is a string or {"text": ...})."""
    if isinstance(spec, dict):
        title = spec.get("title")
        if isinstance(title, (str, dict)):
            yield title if isinstance(title, str) else title.get("text")
        for key, value in spec.items():
            if key != "title":
                yield from chart_titles(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from chart_titles(value)


def charted_data(app: AppTest) -> dict[str, dict]:
    """Each Vega-Lite chart on the page by its (first) title: every title in it and the data frames it plots."""
    charts = {}
    for chart in app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart"):
        proto = chart.proto
        titles = list(chart_titles(json.loads(proto.spec)))
        raws = [d.data.data for d in proto.datasets] + ([proto.data.data] if proto.HasField("data") else [])
        frames = [pa.ipc.open_stream(raw).read_all().to_pandas() for raw in raws if raw]
        for title in titles:
            charts.setdefault(title, {"titles": titles, "frames": frames})
    return charts


def test_ask_tab_explains_the_answer_word_by_word(app_env):
    app = run_app()
    app.text_area(key="question").input("My blender lid cracked, where can I get a new one?")
    app.button(key="predict").click().run()
    assert not app.exception
    highlighted = [m.value for m in app.markdown if "<span title=" in m.value]
    assert len(highlighted) == 1 and highlighted[0].count("<span") == 11
    assert any(c.value.startswith(explain.LEGEND) and "Strongest:" in c.value for c in app.caption)




@pytest.fixture(scope="module")
def app_url(model_server, evaluation_report, tmp_path_factory):
    """The real app (./run.sh app's command) on a free port, for the browser tests of this module."""
    assert Path(CHROMIUM).exists(), "run ./run.sh test: it installs Debian's chromium"
    port = free_port()
    config = server_config(tmp_path_factory.mktemp("app"), model_server,
                           evaluation_report["config"].pipeline.output_dir, host="127.0.0.1", port=port)
    with running_app(config, port) as url:
        yield url


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(120_000)  # the first script run imports a lot; the CI machine has 2 shared cores
        page.goto(app_url, timeout=60_000)
        yield page
        browser.close()


def test_browser_question_gets_an_answer_from_the_server(page, evaluation_report):
    """Type a question in Chromium, press Predict, see label and probability; then the Evaluation tab."""
    page.get_by_label("Customer question").fill("My vacuum filter cracked after 2 weeks, where do I get a new one?")
    page.get_by_role("button", name="Predict").click()
    for text in ("Prediction:", "P(Post)", "confidence", "model version", "Why this answer"):
        page.get_by_text(text).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_prediction.png"), full_page=True)
    page.get_by_role("tab", name="Evaluation").click()
    for text in ("Decision threshold (eval split)", "Metrics per slice", "Version history", "Data (TFDV)"):
        page.get_by_text(text).first.wait_for(timeout=60_000)
    evaluation_body = page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "app_evaluation.png"), full_page=True)
    assert "Prediction: Post" in body or "Prediction: Pre" in body
    assert "P(Post)" in body and "confidence" in body and explain.LEGEND in body
    assert "Precision (Post)" in evaluation_body and evaluation_report["data"].run.run_id in evaluation_body


def test_browser_upload_returns_every_row_with_its_status_and_the_counts(page, tmp_path):
    """Six rows in, an empty one, a blank one and one of 5,000 characters among them: six rows out, and why."""
    upload = tmp_path / "six.csv"
    questions = ["does it fit a queen bed?", "", "   ", "x" * 5000, "mine arrived scratched, refund?", "is it loud?"]
    pd.DataFrame({"question": questions}).to_csv(upload, index=False)
    page.get_by_role("tab", name="Batch").click()
    page.locator("input[type=file]").set_input_files(str(upload))
    message = "3 of 6 rows not scored: 2 empty, 1 longer than 2,000 characters"
    page.get_by_text(message).wait_for(timeout=90_000)
    grid = page.locator("[data-testid='stDataFrame'] table[role='grid']").first
    grid.wait_for(state="attached", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_batch.png"), full_page=True)
    assert grid.get_attribute("aria-rowcount") == str(len(questions) + 1)  # the header row counts too
    cells = grid.locator("td").all_inner_texts()
    assert cells.count("empty") == 2 and cells.count("longer than 2,000 characters") == 1 and cells.count("scored") == 3
    assert "predicting" not in page.inner_text("body")
