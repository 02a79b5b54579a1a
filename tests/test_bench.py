"""Smoke test of the benchmark suite at tiny sizes: it runs end to end and writes its report and plots."""

import json
import os
import subprocess
import sys

from tests.helpers import ROOT


def test_bench_suite_writes_report_and_plots(tmp_path):
    env = {**os.environ, "PPQ_EVALUATOR__MIN_AUC": "0", "PPQ_EVALUATOR__MIN_BINARY_ACCURACY": "0",
           "PPQ_PIPELINE__BEAM_ARGS": "[]"}
    command = [sys.executable, "-m", "bench.run_bench", "--sizes", "200", "300", "--seed-epochs", "1",
               "--pipeline-epochs", "1", "--serving-seconds", "0.2", "--serving-clients", "1", "2", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bench: pipeline on 300 rows" in result.stdout  # progress lines
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["rows"] for r in report["pipeline_runs"]] == [200, 300]
    for run in report["pipeline_runs"]:
        assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "BulkInferrer"} <= set(run["components"])
        assert run["components"]["Trainer"] > 0 and run["peak_rss_mb"] > 100
    assert 0 <= report["seed_style"]["test_auc"] <= 1 and report["seed_style"]["train_seconds"] > 0
    assert report["ratios"]["pipeline_vs_seed_time"] > 0
    assert {r["way"] for r in report["serving"]} == {"in-process", "gRPC", "REST"}
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in report["serving"])
    for plot in ("component_times.png", "comparison.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Against the seed's approach" in (tmp_path / "report.md").read_text()
