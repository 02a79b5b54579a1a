"""The Streamlit app's claims with AppTest: its answer is the model's answer, the Model tab charts the real
metrics, the Batch tab scores an uploaded CSV (table and download), and a wrong model name is named."""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from models.pushed_models import LoadedModel
from serving.client import ModelClient
from tests.helpers import ROOT, server_config

APP = str(ROOT / "app" / "app.py")
CHART_METRICS = ("auc", "binary_accuracy", "precision", "recall")


@pytest.fixture
def app_env(model_server, pipeline_run, tmp_path, monkeypatch):
    results = pipeline_run["config"].pipeline.output_dir
    monkeypatch.setenv("PPQ_CONFIG", str(server_config(tmp_path, model_server, results)))


@pytest.fixture
def media_storages(monkeypatch):
    """The in-memory media storages AppTest creates, kept so a test can read what a download button serves."""
    created = []

    class Recorded(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recorded)
    return created


def run_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


@pytest.mark.parametrize("question", ["Does this tent come with a footprint?",
                                      "The zipper broke on the second trip, can I get a replacement?"])
def test_the_answer_is_the_served_models_answer_for_the_same_question(app_env, model_server, question):
    model = LoadedModel.load(model_server.manager.base_path)
    probabilities, labels = model.predict([question])
    app = run_app()
    app.text_area(key="question").input(question)
    app.button(key="predict").click().run()
    assert not app.exception
    assert app.subheader[0].value.startswith(f"Prediction: {labels[0]} (")
    assert app.metric[0].value == f"{probabilities[0]:.3f}"
    confidence = probabilities[0] if labels[0] == "Post" else 1 - probabilities[0]
    assert app.get("progress")[0].proto.text == f"confidence {confidence:.0%}"
    assert f"model version {model.version}" in " ".join(c.value for c in app.caption)


def chart_values(app: AppTest) -> pd.DataFrame:
    """The data of the Model tab's metrics chart: the one chart whose data names the charted metrics."""
    frames = []
    for chart in app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart"):
        proto = chart.proto
        raw = proto.data.data if proto.HasField("data") else proto.datasets[0].data.data
        frames.append(pa.ipc.open_stream(raw).read_all().to_pandas())
    metric_charts = [f for f in frames if set(CHART_METRICS) <= set(f.astype(str).to_numpy().ravel()) | set(f.index)]
    assert len(metric_charts) == 1, [f.head() for f in frames]
    return metric_charts[0]


def test_model_tab_charts_the_evaluators_numbers(app_env, pipeline_run, model_server):
    metrics = pipeline_run["summary"]["evaluator_eval_split"]["metrics"]
    app = run_app()
    texts = " ".join(m.value for m in app.markdown)
    assert f"version **{model_server.manager.current.version}**" in texts and "serving_default" in texts
    data = chart_values(app)
    numbers = data.select_dtypes("number").to_numpy().ravel()
    assert not np.isnan(numbers).any(), data
    expected = [metrics[m] for m in CHART_METRICS]
    assert sorted(np.round(numbers, 6)) == sorted(np.round(expected, 6)), data
    test = pipeline_run["summary"]["test_split"]
    assert f"TFX model **{test['tfx_model']['auc']:.4f}**" in texts
    check = pipeline_run["summary"]["check_set"]
    assert f"check set ({check['examples']} questions): accuracy **{check['accuracy']:.4f}**" in texts


def test_batch_tab_scores_an_uploaded_csv_shows_a_table_and_offers_the_download(app_env, model_server,
                                                                                 media_storages):
    questions = ["does it fit a queen bed?", "mine arrived scratched, refund?", "   ", "is it loud?"]
    upload = pd.DataFrame({"sku": ["s1", "s2", "s3", "s4"], "question": questions}).to_csv(index=False).encode()
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.file_uploader(key="batch_file").set_value(("questions.csv", upload, "text/csv"))
    app.run()
    assert not app.exception
    usable = [q for q in questions if q.strip()]
    probabilities, labels = LoadedModel.load(model_server.manager.base_path).predict(usable)
    table = app.dataframe[0].value
    assert table["question"].tolist() == questions and table["sku"].tolist() == ["s1", "s2", "s3", "s4"]
    assert table["status"].tolist() == ["scored", "scored", "empty", "scored"]
    scored = table[table["status"] == "scored"]
    assert scored["predicted_label"].tolist() == labels and table["predicted_label"][2] == ""
    np.testing.assert_allclose(scored["probability_post"], np.round(probabilities, 4), atol=1e-4)
    assert "1 of 4 rows not scored: 1 empty" in [w.value for w in app.warning]
    button = app.get("download_button")[0]
    assert button.proto.label == "Download predictions CSV"
    stored = media_storages[-1].get_file(button.proto.url.rsplit("/", 1)[-1])
    downloaded = pd.read_csv(io.BytesIO(stored.content), keep_default_na=False)
    assert downloaded.columns.tolist() == ["sku", "question", "predicted_label", "probability_post", "status"]
    assert downloaded["question"].tolist() == questions
    assert downloaded[downloaded["status"] == "scored"]["predicted_label"].tolist() == labels


def test_an_upload_is_scored_once_however_often_the_page_reruns(app_env, evaluation_report, monkeypatch):
    calls = []
    predict = ModelClient.predict
    monkeypatch.setattr(ModelClient, "predict", lambda self, questions: calls.append(questions) or predict(self, questions))
    questions = [f"is it loud? ({uuid.uuid4()})", "mine broke, refund?"]  # bytes no earlier test uploaded
    upload = pd.DataFrame({"question": questions}).to_csv(index=False).encode()
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.file_uploader(key="batch_file").set_value(("once.csv", upload, "text/csv"))
    app.run()
    assert calls.count(questions) == 1
    app.slider(key="eval_threshold").set_value(0.8).run()
    app.run()
    assert not app.exception and app.dataframe[0].value["question"].tolist() == questions
    assert calls.count(questions) == 1


def test_the_answer_stays_when_another_widget_moves(app_env, evaluation_report):
    app = run_app()
    app.text_area(key="question").input("Does this tent come with a footprint?")
    app.button(key="predict").click().run()
    answer = app.subheader[0].value
    app.slider(key="eval_threshold").set_value(0.7).run()
    assert not app.exception and app.subheader[0].value == answer and answer.startswith("Prediction:")


def test_batch_tab_names_a_file_without_a_question_column(app_env):
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.file_uploader(key="batch_file").set_value(("bad.csv", b"text,x\nhello,1\n", "text/csv"))
    app.run()
    assert "The file has no 'question' column (columns: text, x)." in [e.value for e in app.error]


def test_a_model_name_the_server_does_not_serve_is_named(model_server, tmp_path, monkeypatch):
    path = server_config(tmp_path, model_server)
    raw = json.loads(path.read_text())
    raw["serving"]["model_name"] = "no_such_model"
    path.write_text(json.dumps(raw))
    monkeypatch.setenv("PPQ_CONFIG", str(path))
    app = run_app()
    assert "not answering (not_found)" in app.sidebar.error[0].value
    app.text_area(key="question").input("is it loud?")
    app.button(key="predict").click().run()
    assert not app.exception
    assert any("does not serve a model named 'no_such_model'" in e.value for e in app.error)


def test_the_app_never_loads_the_model_it_asks_the_server(app_env, model_server, monkeypatch):
    """Every way of loading a SavedModel fails while the app runs: it still answers, so the answer came from
    the server (whose own request count went up by the app's asking)."""
    import tensorflow as tf

    def refuse(*args, **kwargs):
        raise AssertionError("the app loaded a model itself")
    for target, name in ((tf.saved_model, "load"), (tf.keras.models, "load_model"), (LoadedModel, "load")):
        monkeypatch.setattr(target, name, refuse)
    before = model_server.metrics.exposition().decode()
    app = run_app()
    app.text_area(key="question").input("Does it come with a case?")
    app.button(key="predict").click().run()
    assert not app.exception, app.exception
    assert app.subheader[0].value.startswith("Prediction: ")
    assert model_server.metrics.exposition().decode() != before
