"""Smoke test of the scale benchmark at a tiny size: it runs end to end and writes its report and plots."""

import json
import os
import subprocess
import sys

from tests.helpers import ROOT


def test_bench_suite_writes_report_and_plots(tmp_path):
    # 2,000 pretrained words, as the suite's own pipeline run: encoding all of them costs about 2 CPU minutes.
    env = {**os.environ, "PPQ_EVALUATOR__MIN_AUC": "0", "PPQ_EVALUATOR__MIN_BINARY_ACCURACY": "0",
           "PPQ_MODEL__PRETRAINED_WORDS": "2000"}
    command = [sys.executable, "-m", "bench.run_bench", "--sizes", "300", "--seed-epochs", "1", "--pipeline-epochs", "1",
               "--score-rows", "3000", "--serving-seconds", "0.2", "--serving-clients", "1", "2",
               "--out", str(tmp_path / "report"), "--work", str(tmp_path / "work")]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bench: pipeline on 300 rows" in result.stdout  # progress lines
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    [size] = report["sizes"]
    run = size["pipeline"]
    assert size["rows"] == 300 and run["beam_mode"] == "in_memory"
    assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "BatchScoring"} <= set(run["components"])
    assert run["components"]["Trainer"] > 0 and run["processes"]["main"]["peak_rss_mb"] > 100
    assert run["prepare"]["rows_read"] >= 300 and run["prepare"]["rows_per_second"] > 0
    assert 0 <= size["seed_style"]["test_auc"] <= 1 and size["pipeline_vs_seed"] > 0
    scoring = report["batch_scoring"]
    assert scoring["rows"] == 3000 and scoring["step_vs_in_process"]["BatchScoring"] > 0
    assert scoring["in_process"]["batch_256_per_second"] > 0
    assert {r["way"] for r in report["serving"]} == {"in-process", "gRPC", "REST"}
    for plot in ("component_times.png", "scaling.png"):
        assert (tmp_path / "report" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Batch scoring (3000 questions" in text and "pipeline / seed-style" in text
