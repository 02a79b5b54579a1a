"""The command line's steps on their own: infer, report, prepare --force, and PPQ_DEBUG=1 for a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common import config as configs
from models.pushed_models import LoadedModel
from pipeline import cli
from tests.helpers import SMALL_OVERRIDES, write_config


def test_infer_writes_the_pushed_models_predictions_for_a_csv(pipeline_run, small_config_path, tmp_path, capsys):
    questions = ["Does it come with a wall plug?", "mine stopped charging after a week", "", "is it  red?"]
    source = tmp_path / "questions.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d"], "question": questions}).to_csv(source, index=False)
    target = tmp_path / "out" / "scored.csv"
    assert cli.main(["--config", str(small_config_path), "infer", "--input", str(source), "--output", str(target),
                     "--batch-size", "3"]) == 0
    assert f"wrote 4 predictions to {target}" in capsys.readouterr().out
    scored = pd.read_csv(target, keep_default_na=False, dtype={"id": str})
    assert scored.columns.tolist() == ["id", "question", "probability_post", "predicted_label"]
    assert scored["id"].tolist() == ["a", "b", "c", "d"] and scored["question"].tolist() == questions
    probabilities, labels = LoadedModel.load(pipeline_run["config"].serving.model_base_path).predict(questions)
    np.testing.assert_allclose(scored["probability_post"], probabilities, atol=1e-6)
    assert scored["predicted_label"].tolist() == labels


def test_infer_without_input_scores_the_test_split(pipeline_run, small_config_path, tmp_path, capsys):
    from dataprep import splits
    target = tmp_path / "scored.csv"
    assert cli.main(["--config", str(small_config_path), "infer", "--output", str(target)]) == 0
    test_split = splits.read_split(pipeline_run["prepared_dir"], "test")
    assert f"wrote {len(test_split)} predictions to {target}" in capsys.readouterr().out
    scored = pd.read_csv(target, keep_default_na=False)
    assert scored["question"].tolist() == test_split["question"].tolist()


def test_infer_names_a_missing_input_and_a_missing_column(small_config_path, tmp_path, capsys):
    assert cli.main(["--config", str(small_config_path), "infer", "--input", str(tmp_path / "none.csv")]) == 2
    assert "error: input CSV not found" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("text\nhello\n")
    assert cli.main(["--config", str(small_config_path), "infer", "--input", str(bad)]) == 2
    assert "has no 'question' column" in capsys.readouterr().err


def test_report_rewrites_the_summary_and_predictions_from_the_latest_run(pipeline_run, small_config_path, capsys):
    config = pipeline_run["config"]
    config.pipeline.summary_path.unlink()
    config.pipeline.predictions_path.unlink()
    assert cli.main(["--config", str(small_config_path), "report"]) == 0
    out = capsys.readouterr().out
    rewritten = json.loads(config.pipeline.summary_path.read_text())
    assert rewritten["blessed"] is True and "model blessed: True" in out
    test = rewritten["test_split"]
    assert test == pipeline_run["summary"]["test_split"]
    assert f"test AUC: TFX model {test['tfx_model']['auc']:.4f}" in out
    predictions = pd.read_csv(config.pipeline.predictions_path, keep_default_na=False)
    assert len(predictions) == pipeline_run["manifest"]["splits"]["test"]["rows"]


def small_data_config(tmp_path) -> str:
    return str(write_config(tmp_path, {**SMALL_OVERRIDES, "data": {"total_sample_size": 120}}))


def test_prepare_force_rebuilds_what_is_up_to_date(tmp_path, capsys):
    config_path = small_data_config(tmp_path)
    assert cli.main(["--config", config_path, "prepare"]) == 0
    assert "data: 120 rows" in capsys.readouterr().out
    prepared = configs.load(config_path, environ={}).data.prepared_dir
    marker = prepared / "train" / "stale.txt"
    marker.write_text("left from an older run")
    assert cli.main(["--config", config_path, "prepare"]) == 0
    assert "is up to date" in capsys.readouterr().out and marker.exists()
    assert cli.main(["--config", config_path, "prepare", "--force"]) == 0
    assert "data: 120 rows" in capsys.readouterr().out and not marker.exists()


def test_errors_are_one_line_unless_ppq_debug_asks_for_the_traceback(tmp_path, capsys, monkeypatch):
    config_path = small_data_config(tmp_path)
    args = ["--config", config_path, "infer", "--input", str(tmp_path / "missing.csv")]
    monkeypatch.delenv("PPQ_DEBUG", raising=False)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input CSV not found") and "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setenv("PPQ_DEBUG", "1")
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "FileNotFoundError" in err
    assert err.rstrip().endswith("error: input CSV not found: " + str(tmp_path / "missing.csv"))


@pytest.mark.parametrize("question", ["   ", ""])
def test_predict_refuses_an_empty_question(small_config_path, question, capsys):
    assert cli.main(["--config", str(small_config_path), "predict", question]) == 2
    assert "the question is empty" in capsys.readouterr().err


def test_predict_explain_in_process_explains_with_the_pushed_model_and_no_server(pipeline_run, small_config_path,
                                                                                  capsys):
    question = "my blender lid cracked after a week"
    config = pipeline_run["config"]
    config_path = write_config_with_dead_server(small_config_path)
    assert cli.main(["--config", config_path, "predict", question, "--explain", "--in-process"]) == 0
    answer = json.loads(capsys.readouterr().out)
    model = LoadedModel.load(config.serving.model_base_path)
    probabilities, labels = model.predict([question])
    assert answer["predicted_label"] == labels[0] and answer["model_version"] == model.version
    assert answer["probability_post"] == round(float(probabilities[0]), 4)
    assert sorted(w["word"] for w in answer["word_effects"]) == sorted(question.split())
    without_lid = model.predict(["my blender cracked after a week"])[0][0]
    lid = next(w for w in answer["word_effects"] if w["word"] == "lid")
    assert abs(lid["effect_on_p_post"] - float(probabilities[0] - without_lid)) <= 1e-4


def write_config_with_dead_server(config_path: Path) -> str:
    """The same run (same folder, so the same relative paths), with the server's ports where nothing listens."""
    raw = json.loads(Path(config_path).read_text())
    raw["serving"].update(grpc_port=1, rest_port=2)
    path = Path(config_path).with_name("dead-server-config.json")
    path.write_text(json.dumps(raw))
    return str(path)
