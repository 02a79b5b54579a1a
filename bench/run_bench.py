"""The scale benchmark: data preparation and the whole pipeline at each size, side by side in one run.

For each size (rows to sample) it writes raw data in the bundled schema (bench/scale_data.py: the bundled
rows re-sampled with small text variations), runs data preparation and then the whole pipeline, each in a
child process (own folders, cache off), and records every component's wall time (ML Metadata's execution
records), the peak memory of every process of the run (the pipeline and any Beam workers, sampled from
/proc), and data preparation's rows/s. At each size the seed-style Keras script trains and predicts on
the same prepared split. With the first size's model it times batch scoring as a pipeline step
on ``--score-rows`` questions against the same SavedModel in-process (bench/scoring_bench.py); on the
largest size, the TF-IDF baseline and the serving benchmark. Writes report.json, report.md and PNG plots into --out.

Run: ./run.sh bench --sizes 25000 100000 250000 --out docs/scale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import features  # noqa: E402
from bench.scale_data import write_scaled_csv  # noqa: E402
from bench.serving_bench import format_table, run_serving_bench  # noqa: E402
from common import config as configs  # noqa: E402
from dataprep import splits  # noqa: E402
from reporting import run_artifacts, run_document  # noqa: E402
from reporting.baseline import tfidf_baseline  # noqa: E402
from reporting.metrics import classification_metrics  # noqa: E402

ROOT = configs.PROJECT_ROOT
BEAM_MODES = {"in_memory": [], "multi_processing": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]}
DEDUP_MARGIN = 1.06  # raw rows per wanted row: data preparation drops the few repeated questions
MEMORY_LIMIT_MB = 4096


def _process_kind(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        command = ""
    if not command.strip():
        return "short-lived (exited before sampled)"
    if "sdk_worker_main" in command or "worker_pool_main" in command:
        return "beam worker"
    if "setup.py" in command or "bdist_wheel" in command or "sdist" in command:
        return "packaging (setup.py)"
    return "main" if "pipeline.cli" in command or "bench." in command else command.split(" ")[0].rsplit("/", 1)[-1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class TreeMemory(threading.Thread):
    """Samples the peak resident memory (VmHWM) of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peaks = pid, interval, {}
        self._stop_event = threading.Event()

    def _sample(self) -> None:
        stack = [self.pid]
        while stack:
            pid = stack.pop()
            stack += _children(pid)
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            peak = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)
            kind = self.peaks.get(pid, (None, 0.0))[0] or _process_kind(pid)
            self.peaks[pid] = (kind, max(peak, self.peaks.get(pid, (kind, 0.0))[1]))

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._sample()

    def stop(self) -> dict[str, dict[str, float]]:
        """Per kind of process: how many ran and the largest peak (MB)."""
        self._stop_event.set()
        self.join()
        kinds: dict[str, dict[str, float]] = {}
        for kind, peak in self.peaks.values():
            entry = kinds.setdefault(kind, {"processes": 0, "peak_rss_mb": 0.0})
            entry["processes"] += 1
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], peak)
        return kinds


def run_child(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command; its wall time, its peak memory (wait4) and the peaks of every process it started."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = TreeMemory(process.pid)
    memory.start()
    stderr_tail = process.stderr.read()[-3000:].decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    processes = memory.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({os.waitstatus_to_exitcode(status)}): {stderr_tail}")
    processes.setdefault("main", {"processes": 1, "peak_rss_mb": 0.0})
    processes["main"]["peak_rss_mb"] = max(processes["main"]["peak_rss_mb"], usage.ru_maxrss / 1024)
    return {"seconds": seconds, "peak_rss_mb": max(p["peak_rss_mb"] for p in processes.values()), "processes": processes}


def component_seconds(metadata_path: Path) -> dict[str, float]:
    """Wall time of each component (by its id in the pipeline), from ML Metadata's create and last-update times."""
    store = run_artifacts.open_store(metadata_path)
    times: dict[str, float] = {}
    for execution in store.get_executions():
        name = run_artifacts.node_id(store, execution.id)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        times[name] = times.get(name, 0.0) + seconds
    return times


def run_env(folder: Path, rows: int, source: Path, beam_args: list[str], epochs: int | None) -> dict[str, str]:
    env = {**os.environ, "PPQ_DATA__SOURCE": str(source), "PPQ_DATA__TOTAL_SAMPLE_SIZE": str(rows),
           "PPQ_DATA__PREPARED_DIR": str(folder / "data"), "PPQ_PIPELINE__ROOT": str(folder / "pipeline_root"),
           "PPQ_PIPELINE__ENABLE_CACHE": "false", "PPQ_PIPELINE__METADATA_PATH": str(folder / "metadata.db"),
           "PPQ_PIPELINE__OUTPUT_DIR": str(folder / "results"), "PPQ_SERVING__MODEL_DIR": str(folder / "serving"),
           "PPQ_PIPELINE__BEAM_ARGS": json.dumps(beam_args)}
    if epochs is not None:
        env["PPQ_MODEL__EPOCHS"] = str(epochs)
    return env


def pipeline_at(rows: int, mode: str, work: Path, epochs: int | None) -> dict[str, Any]:
    """Data preparation, then the whole pipeline, at one size and Beam mode (each a child process)."""
    source = write_scaled_csv(int(rows * DEDUP_MARGIN), work / "raw" / f"rows-{int(rows * DEDUP_MARGIN)}.csv.gz")
    folder = work / f"rows-{rows}-{mode}"
    env = run_env(folder, rows, source, BEAM_MODES[mode], epochs)
    print(f"bench: data preparation for {rows} rows ...", flush=True)
    prepare = run_child([sys.executable, "-m", "pipeline.cli", "prepare", "--force"], env)
    config = configs.load(environ=env)
    manifest = splits.read_manifest(config.data.prepared_dir)
    print(f"bench: pipeline on {rows} rows, Beam {mode} ...", flush=True)
    child = run_child([sys.executable, "-m", "pipeline.cli", "pipeline"], env)
    print(f"bench: pipeline on {rows} rows took {child['seconds']:.0f} s", flush=True)
    return {"rows": rows, "beam_mode": mode, "end_to_end_seconds": child["seconds"], "peak_rss_mb": child["peak_rss_mb"],
            "processes": child["processes"], "components": component_seconds(config.pipeline.metadata_path),
            "prepare": {"seconds": prepare["seconds"], "peak_rss_mb": prepare["peak_rss_mb"],
                        "rows_read": manifest["rows_read"], "rows_per_second": manifest["rows_read"] / prepare["seconds"],
                        "rows_per_second_in_step": manifest["rows_read"] / manifest["seconds"]},
            "test_rows": manifest["splits"]["test"]["rows"],
            "document": run_document.read(config.pipeline.summary_path), "folder": str(folder), "config": config}


def seed_style(run: dict[str, Any], epochs: int) -> dict[str, Any]:
    print(f"bench: seed-style Keras script on {run['rows']} rows ({epochs} epochs) ...", flush=True)
    out = Path(run["folder"]) / "seed_style.json"
    child = run_child([sys.executable, "-m", "bench.seed_style", "--prepared-dir", str(run["config"].data.prepared_dir),
                       "--epochs", str(epochs), "--out", str(out)], dict(os.environ))
    return {**json.loads(out.read_text()), "end_to_end_seconds": child["seconds"], "peak_rss_mb": child["peak_rss_mb"]}


def batch_scoring(run: dict[str, Any], rows: int, work: Path) -> dict[str, Any]:
    print(f"bench: batch scoring of {rows} questions as a pipeline step vs in-process ...", flush=True)
    out = work / "scoring.json"
    child = run_child([sys.executable, "-m", "bench.scoring_bench", "--run-dir", run["folder"], "--rows", str(rows),
                       "--work", str(work / f"scoring-{rows}"), "--out", str(out)], dict(os.environ))
    return {**json.loads(out.read_text()), "peak_rss_mb": child["peak_rss_mb"]}


def tfidf(run: dict[str, Any]) -> dict[str, float]:
    config = run["config"]
    started = time.perf_counter()
    train, test = (splits.read_split(config.data.prepared_dir, split) for split in ("train", "test"))
    probability = tfidf_baseline(train, test, config.data.random_seed)
    metrics = classification_metrics(test[features.LABEL], probability)
    return {"seconds": time.perf_counter() - started, "test_auc": metrics["auc"], "test_accuracy": metrics["accuracy"]}


def plot_components(runs: list[dict[str, Any]], path: Path) -> None:
    frame = pd.DataFrame({r["rows"]: r["components"] for r in runs}).T.sort_index()
    frame = frame[[c for c in frame.columns if frame[c].max() >= 0.5]]
    ax = frame.plot(marker="o", figsize=(9, 5), colormap="tab20")
    ax.set_xlabel("rows sampled")
    ax.set_ylabel("seconds")
    ax.set_title("Pipeline wall time per component (ML Metadata)")
    ax.legend(fontsize=8, ncol=2)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)


def plot_scaling(report: dict[str, Any], path: Path) -> None:
    rows = [s["rows"] for s in report["sizes"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(rows, [s["pipeline"]["end_to_end_seconds"] for s in report["sizes"]], "o-", label="TFX pipeline")
    left.plot(rows, [s["seed_style"]["end_to_end_seconds"] for s in report["sizes"]], "o-", label="seed-style script")
    left.plot(rows, [s["pipeline"]["prepare"]["seconds"] for s in report["sizes"]], "o-", label="data preparation")
    left.set_xlabel("rows sampled")
    left.set_ylabel("seconds (process wall time)")
    left.legend()
    for kind in sorted({k for s in report["sizes"] for k in s["pipeline"]["processes"]}):
        right.plot(rows, [s["pipeline"]["processes"].get(kind, {}).get("peak_rss_mb", float("nan")) for s in report["sizes"]],
                   "o-", label=kind)
    right.axhline(MEMORY_LIMIT_MB, color="red", linestyle="--", label="4 GiB limit")
    right.set_xlabel("rows sampled")
    right.set_ylabel("peak resident memory per process (MB)")
    right.legend(fontsize=8)
    fig.suptitle("How cost grows with rows (same machine, same run)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    sizes = report["sizes"]
    runs = [s["pipeline"] for s in sizes]
    head = "| | " + " | ".join(f"{r['rows']} rows ({r['beam_mode']})" for r in runs) + " |"
    lines = [f"# Scale benchmark ({report['started']})", "",
             f"Machine: {os.cpu_count()} cores, shared. Command: `{report['command']}`.", "",
             "## Pipeline cost by component (seconds, from ML Metadata)", "", head, "|---|" + "---|" * len(runs)]
    names = sorted(runs[-1]["components"], key=lambda n: -runs[-1]["components"][n])
    lines += [_row(name, *(f"{r['components'].get(name, 0):.1f}" for r in runs)) for name in names]
    lines += [_row("**end to end (process)**", *(f"**{r['end_to_end_seconds']:.1f}**" for r in runs)),
              _row("seed-style script (same split)", *(f"{s['seed_style']['end_to_end_seconds']:.1f}" for s in sizes)),
              _row("**pipeline / seed-style**", *(f"**{s['pipeline_vs_seed']:.2f}x**" for s in sizes)),
              _row("test AUC: pipeline / seed-style", *(f"{s['test_auc']:.4f} / {s['seed_style']['test_auc']:.4f}"
                                                        for s in sizes)),
              "", "## Data preparation", "", head, "|---|" + "---|" * len(runs),
              _row("raw rows read", *(r["prepare"]["rows_read"] for r in runs)),
              _row("seconds (process)", *(f"{r['prepare']['seconds']:.1f}" for r in runs)),
              _row("rows/s (process, incl. imports)", *(f"{r['prepare']['rows_per_second']:.0f}" for r in runs)),
              _row("rows/s (the step itself)", *(f"{r['prepare']['rows_per_second_in_step']:.0f}" for r in runs)),
              _row("peak memory (MB)", *(f"{r['prepare']['peak_rss_mb']:.0f}" for r in runs)),
              "", "## Peak memory of every process of the pipeline run (MB; count of processes)", "",
              head, "|---|" + "---|" * len(runs)]
    for kind in sorted({k for r in runs for k in r["processes"]}):
        cells = [f"{r['processes'][kind]['peak_rss_mb']:.0f} ({r['processes'][kind]['processes']:.0f})"
                 if kind in r["processes"] else "-" for r in runs]
        lines.append(_row(kind, *cells))
    lines.append(_row("**largest process**", *(f"**{r['peak_rss_mb']:.0f}**" for r in runs)))
    scoring = report.get("batch_scoring")
    if scoring:
        in_process = scoring["in_process"]
        lines += ["", f"## Batch scoring ({scoring['rows']} questions, model of the {sizes[0]['rows']}-row run)", "",
                  "| | seconds | questions/s | vs in-process (faster batch size) |", "|---|---|---|---|"]
        for step, rate in scoring["step_per_second"].items():
            ratio = scoring["step_vs_in_process"][step]
            lines.append(_row(f"{step} (pipeline step, incl. start-up and model load)",
                              f"{scoring['steps_seconds'][step]:.1f}", f"{rate:.0f}", f"**{ratio:.2f}x**"))
        for key, rate in in_process.items():
            if key.endswith("_per_second"):
                best = max(r for k, r in in_process.items() if k.endswith("_per_second"))
                lines.append(_row(f"in-process serving_default, {key.split('_')[1]} a call (load excluded)", "-", f"{rate:.0f}",
                                  f"{rate / best:.2f}x"))
        lines.append(f"\nBatch size {scoring['batch_size']}; in-process model load {in_process['model_load_seconds']:.1f} s.")
    if "tfidf_logistic_regression" in report:
        t = report["tfidf_logistic_regression"]
        lines += ["", f"TF-IDF + logistic regression on the largest split: {t['seconds']:.1f} s, test AUC {t['test_auc']:.4f}."]
    if "serving" in report:
        lines += ["", "## Serving (single-question requests, largest model)", "", "```", format_table(report["serving"]), "```"]
    lines += ["", "Plots: `component_times.png`, `scaling.png`."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], runs: list[dict[str, Any]], out: Path) -> None:
    plot_components(runs, out / "component_times.png")
    plot_scaling(report, out / "scaling.png")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25000, 100000, 250000])
    parser.add_argument("--beam-mode", choices=sorted(BEAM_MODES), nargs="+", default=["in_memory"],
                        help="Beam DirectRunner mode per size, in order (one value: every size)")
    parser.add_argument("--seed-epochs", type=int, default=10)
    parser.add_argument("--pipeline-epochs", type=int, default=None, help="override model.epochs (smoke runs)")
    parser.add_argument("--score-rows", type=int, default=100_000, help="questions batch scoring scores (0: skip)")
    parser.add_argument("--serving-seconds", type=float, default=3.0)
    parser.add_argument("--serving-clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench-work")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    modes = args.beam_mode * len(sizes) if len(args.beam_mode) == 1 else args.beam_mode
    if len(modes) != len(sizes):
        parser.error("--beam-mode: give one mode, or one per size")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "command": " ".join(["./run.sh bench", *sys.argv[1:]]), "sizes": []}
    runs = []
    for rows, mode in zip(sizes, modes, strict=True):
        run = pipeline_at(rows, mode, args.work, args.pipeline_epochs)
        if run["document"].test_split.tfx_model is None:
            raise SystemExit(f"bench: the model trained on {rows} rows was not blessed, so there are no test "
                             f"predictions to compare; see {run['config'].pipeline.summary_path}")
        seed = seed_style(run, args.seed_epochs)
        runs.append(run)
        report["sizes"].append({"rows": rows, "pipeline": {k: v for k, v in run.items() if k not in ("document", "config")},
                                "seed_style": seed, "test_auc": run["document"].test_split.tfx_model.auc,
                                "pipeline_vs_seed": run["end_to_end_seconds"] / seed["end_to_end_seconds"]})
        if args.score_rows and "batch_scoring" not in report:  # early, with the first model: the sizes that follow are long
            report["batch_scoring"] = batch_scoring(run, args.score_rows, args.work)
        write_report(report, runs, args.out)  # after every size, so a long run leaves figures as it goes
    largest = runs[-1]
    report["tfidf_logistic_regression"] = tfidf(largest)
    if args.serving_seconds > 0:
        serving = largest["config"].serving
        report["serving"] = run_serving_bench(serving.model_base_path, serving.model_name, args.serving_seconds,
                                              args.serving_clients)
    write_report(report, runs, args.out)
    print("\n" + markdown(report))
    print(f"bench: wrote {args.out / 'report.md'}, report.json and plots", flush=True)


if __name__ == "__main__":
    main()
