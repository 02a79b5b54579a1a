"""The benchmark suite: what the pipeline, batch inference and serving cost, side by side, in one run.

For each size (rows of the bundled data) it runs the whole pipeline in a child
process (its own folders, cache off) and reads every component's wall time from
the ML Metadata store's execution records, and the child's peak memory. On the
largest size it also runs the seed-style Keras script and the TF-IDF + logistic
regression baseline on the same prepared split, times batch inference
(BulkInferrer vs. the same SavedModel called in-process in batches), and the
serving benchmark. Writes report.json, report.md and PNG plots into --out.

Run: ./run.sh bench [--sizes 1000 5000 25000] [--out outputs/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from ml_metadata import metadata_store  # noqa: E402
from ml_metadata.proto import metadata_store_pb2  # noqa: E402

import features  # noqa: E402
from bench.serving_bench import format_table, run_serving_bench  # noqa: E402
from components.data_preparation import latest_prepared_splits  # noqa: E402
from dataprep import splits  # noqa: E402
from pipeline import configs  # noqa: E402
from reporting.baseline import tfidf_baseline
from reporting.metrics import classification_metrics  # noqa: E402
from serving.model_versions import LoadedModel  # noqa: E402

ROOT = configs.PROJECT_ROOT


def run_child(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a command; its wall time and the child's peak resident memory (from wait4's rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_tail = process.stderr.read()[-2000:].decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {stderr_tail}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024}


def component_seconds(metadata_path: Path) -> dict[str, float]:
    """Wall time of each component execution, from ML Metadata's create and last-update times."""
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    store = metadata_store.MetadataStore(connection)
    types = {t.id: t.name for t in store.get_execution_types()}
    times: dict[str, float] = {}
    for execution in store.get_executions():
        name = types[execution.type_id].split(".")[-1]
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        times[name] = times.get(name, 0.0) + seconds
    return times


def pipeline_at(rows: int, workdir: Path, epochs: int | None) -> dict[str, Any]:
    folder = workdir / f"rows-{rows}"
    env = {**os.environ, "PPQ_DATA__TOTAL_SAMPLE_SIZE": str(rows),
           "PPQ_PIPELINE__ROOT": str(folder / "pipeline_root"), "PPQ_PIPELINE__ENABLE_CACHE": "false",
           "PPQ_PIPELINE__METADATA_PATH": str(folder / "metadata.db"), "PPQ_PIPELINE__OUTPUT_DIR": str(folder / "results"),
           "PPQ_SERVING__MODEL_DIR": str(folder / "serving")}
    if epochs is not None:
        env["PPQ_MODEL__EPOCHS"] = str(epochs)
    print(f"bench: pipeline on {rows} rows ...", flush=True)
    child = run_child([sys.executable, "-m", "pipeline.cli", "pipeline"], env)
    config = configs.load(environ=env)
    prepared_dir, manifest = latest_prepared_splits(config.pipeline.metadata_path)
    result = {"rows": rows, "end_to_end_seconds": child["seconds"], "peak_rss_mb": child["peak_rss_mb"],
              "manifest_test_rows": manifest["splits"]["test"]["rows"],
              "components": component_seconds(config.pipeline.metadata_path),
              "summary": json.loads(config.pipeline.summary_path.read_text()), "config": config,
              "prepared_dir": prepared_dir}
    print(f"bench: pipeline on {rows} rows took {child['seconds']:.0f} s", flush=True)
    return result


def batch_inference(smallest: dict[str, Any], largest: dict[str, Any]) -> dict[str, float]:
    """BulkInferrer's examples/s on the test split vs. the same SavedModel in-process, batches of 256.

    The marginal rate (extra rows / extra seconds between the smallest and largest run) takes out
    BulkInferrer's fixed start-up cost.
    """
    config = largest["config"]
    test = splits.read_split(largest["prepared_dir"], "test")
    questions = test[features.QUESTION].tolist()
    started = time.perf_counter()
    model = LoadedModel.load(config.serving.model_base_path)
    loaded = time.perf_counter()
    model.predict_in_batches(questions, 256)
    done = time.perf_counter()
    bulk_seconds = largest["components"]["BulkInferrer"]
    in_process_rate = len(questions) / (done - loaded)
    marginal = None
    if smallest is not largest:
        extra_rows = largest["manifest_test_rows"] - smallest["manifest_test_rows"]
        extra_seconds = bulk_seconds - smallest["components"]["BulkInferrer"]
        marginal = extra_rows / extra_seconds if extra_seconds > 0 else None
    return {"rows": len(questions), "bulk_inferrer_seconds": bulk_seconds,
            "bulk_inferrer_marginal_per_second": marginal,
            "bulk_inferrer_per_second": len(questions) / bulk_seconds,
            "in_process_per_second": in_process_rate,
            "in_process_per_second_with_load": len(questions) / (done - started),
            "bulk_vs_in_process": (len(questions) / bulk_seconds) / in_process_rate}


def seed_style(largest: dict[str, Any], workdir: Path, epochs: int) -> dict[str, float]:
    print(f"bench: seed-style Keras script ({epochs} epochs) ...", flush=True)
    out = workdir / "seed_style.json"
    child = run_child([sys.executable, "-m", "bench.seed_style", "--prepared-dir",
                       str(largest["prepared_dir"]), "--epochs", str(epochs), "--out", str(out)], dict(os.environ))
    return {**json.loads(out.read_text()), "end_to_end_seconds": child["seconds"], "peak_rss_mb": child["peak_rss_mb"]}


def tfidf(largest: dict[str, Any]) -> dict[str, float]:
    config = largest["config"]
    started = time.perf_counter()
    train, test = (splits.read_split(largest["prepared_dir"], split) for split in ("train", "test"))
    probability = tfidf_baseline(train, test, config.data.random_seed)
    metrics = classification_metrics(test[features.LABEL], probability)
    return {"seconds": time.perf_counter() - started, "test_auc": metrics["auc"], "test_accuracy": metrics["accuracy"]}


def plot_components(runs: list[dict[str, Any]], path: Path) -> None:
    frame = pd.DataFrame({r["rows"]: r["components"] for r in runs}).T.sort_index()
    ax = frame.plot(marker="o", figsize=(9, 5), logx=True, colormap="tab20")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds")
    ax.set_title("Pipeline wall time per component")
    ax.legend(fontsize=8, ncol=2)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)


def plot_comparison(report: dict[str, Any], path: Path) -> None:
    names = ["TFX pipeline", "seed-style script", "TF-IDF + LR"]
    times = [report["pipeline_largest"]["end_to_end_seconds"], report["seed_style"]["end_to_end_seconds"],
             report["tfidf_logistic_regression"]["seconds"]]
    aucs = [report["pipeline_largest"]["test_auc"], report["seed_style"]["test_auc"],
            report["tfidf_logistic_regression"]["test_auc"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(names, times, color=["#1f77b4", "#ff7f0e", "#2ca02c"])
    left.set_ylabel("end-to-end seconds")
    right.bar(names, aucs, color=["#1f77b4", "#ff7f0e", "#2ca02c"])
    right.set_ylim(min(aucs) - 0.02, max(aucs) + 0.01)
    right.set_ylabel("test AUC")
    for axis in (left, right):
        axis.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"{report['pipeline_largest']['rows']} rows, same split, same machine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _model_row(name: str, seconds: float, train: object, auc: float, accuracy: float) -> str:
    return _row(name, f"{seconds:.1f}", train if isinstance(train, str) else f"{train:.1f}", f"{auc:.4f}", f"{accuracy:.4f}")


def markdown(report: dict[str, Any]) -> str:
    p, s, t, b = (report["pipeline_largest"], report["seed_style"], report["tfidf_logistic_regression"],
                  report["batch_inference"])
    lines = [f"# Benchmark report ({report['started']})", "", f"Machine: {os.cpu_count()} cores. Command: `{report['command']}`.",
             "", "## Pipeline cost by component (seconds)", "",
             "| component | " + " | ".join(f"{r['rows']} rows" for r in report["pipeline_runs"]) + " |",
             "|---|" + "---|" * len(report["pipeline_runs"])]
    for name in sorted(report["pipeline_runs"][-1]["components"], key=lambda n: -report["pipeline_runs"][-1]["components"][n]):
        lines.append(f"| {name} | " + " | ".join(f"{r['components'].get(name, 0):.1f}" for r in report["pipeline_runs"]) + " |")
    runs = report["pipeline_runs"]
    lines.append(_row("**end to end (process)**", *(f"{r['end_to_end_seconds']:.1f}" for r in runs)))
    lines.append(_row("peak memory (MB)", *(f"{r['peak_rss_mb']:.0f}" for r in runs)))
    lines += ["", f"## Against the seed's approach ({p['rows']} rows)", "",
              "| | end-to-end s | training s | test AUC | test accuracy |", "|---|---|---|---|---|",
              _model_row("TFX pipeline", p["end_to_end_seconds"], p["trainer_seconds"], p["test_auc"], p["test_accuracy"]),
              _model_row("seed-style script", s["end_to_end_seconds"], s["train_seconds"], s["test_auc"], s["test_accuracy"]),
              _model_row("TF-IDF + logistic regression", t["seconds"], "-", t["test_auc"], t["test_accuracy"]),
              "", f"Pipeline / seed-style end-to-end time: **{report['ratios']['pipeline_vs_seed_time']:.2f}x** (target ≤ 4x). "
              f"TFX AUC - seed-style AUC: **{report['ratios']['auc_vs_seed']:+.4f}**; TFX AUC - TF-IDF AUC: "
              f"**{report['ratios']['auc_vs_tfidf']:+.4f}**.", "",
              "## Batch inference (test split)", "",
              f"BulkInferrer: {b['bulk_inferrer_per_second']:.0f} examples/s "
              f"({b['bulk_inferrer_seconds']:.1f} s for {b['rows']} rows, "
              f"including model load and Beam start-up); same SavedModel in-process in batches of 256: "
              f"{b['in_process_per_second']:.0f}/s ({b['in_process_per_second_with_load']:.0f}/s including load). "
              f"Ratio **{b['bulk_vs_in_process']:.2f}** (target ≥ 0.5). Marginal BulkInferrer rate between the smallest "
              f"and largest run (start-up cost taken out): {b['bulk_inferrer_marginal_per_second'] or float('nan'):.0f}/s. "
              "`./run.sh profile-bulk --run-dir <out>/work/rows-<largest>` profiles where its time goes.", "",
              "## Serving (single-question requests)", "", "```", format_table(report["serving"]), "```", "",
              "Plots: `component_times.png`, `comparison.png`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 25000])
    parser.add_argument("--seed-epochs", type=int, default=10)
    parser.add_argument("--pipeline-epochs", type=int, default=None, help="override model.epochs (smoke runs)")
    parser.add_argument("--serving-seconds", type=float, default=3.0)
    parser.add_argument("--serving-clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "command": " ".join(["./run.sh bench", *sys.argv[1:]])}
    runs = [pipeline_at(rows, work, args.pipeline_epochs) for rows in sorted(args.sizes)]
    largest = runs[-1]
    if "tfx_model" not in largest["summary"]["test_split"]:
        raise SystemExit(f"bench: the model trained on {largest['rows']} rows was not blessed, so there are no test "
                         f"predictions to compare; see {largest['config'].pipeline.summary_path}")
    test_metrics = largest["summary"]["test_split"]["tfx_model"]
    report["pipeline_runs"] = [{k: v for k, v in r.items() if k not in ("summary", "config")} for r in runs]
    report["pipeline_largest"] = {"rows": largest["rows"], "end_to_end_seconds": largest["end_to_end_seconds"],
                                  "trainer_seconds": largest["components"].get("Trainer", 0.0),
                                  "test_auc": test_metrics["auc"], "test_accuracy": test_metrics["accuracy"]}
    report["seed_style"] = seed_style(largest, work, args.seed_epochs)
    report["tfidf_logistic_regression"] = tfidf(largest)
    print("bench: batch inference ...", flush=True)
    report["batch_inference"] = batch_inference(runs[0], largest)
    report["serving"] = run_serving_bench(largest["config"].serving.model_base_path, largest["config"].serving.model_name,
                                          args.serving_seconds, args.serving_clients)
    report["ratios"] = {
        "pipeline_vs_seed_time": largest["end_to_end_seconds"] / report["seed_style"]["end_to_end_seconds"],
        "auc_vs_seed": test_metrics["auc"] - report["seed_style"]["test_auc"],
        "auc_vs_tfidf": test_metrics["auc"] - report["tfidf_logistic_regression"]["test_auc"],
        "batch_inference_vs_in_process": report["batch_inference"]["bulk_vs_in_process"],
    }
    plot_components(runs, args.out / "component_times.png")
    plot_comparison(report, args.out / "comparison.png")
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print("\n" + markdown(report))
    print(f"bench: wrote {args.out / 'report.md'}, report.json and plots", flush=True)


if __name__ == "__main__":
    main()
