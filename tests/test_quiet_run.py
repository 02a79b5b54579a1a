"""The default run prints a screenful: a line per component; the libraries' output goes to a log file."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from common import config as configs
from pipeline import run_log
from tests.helpers import ROOT, answers, free_port, wait_for, write_config

# Unchanged inputs: TFX reuses these executions. The Resolver resolves on every run, and what follows it sees a
# baseline model the first run did not have, so those run again.
CACHED = ["DataPreparation", "CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomaliesGate",
          "Transform", "PretrainedEmbeddings", "Trainer"]
RERUN = ["latest_blessed_model_resolver", "Evaluator", "ServingCheck", "Pusher", "BatchScoring"]


def test_run_sh_reruns_the_pipeline_in_a_screenful_then_serves_until_ctrl_c_stops_both(
        pipeline_run, small_config_path, tmp_path):
    """``./run.sh`` as a user runs it: the pipeline (a line per component, the libraries' output in a log file),
    then the model server and the app until Ctrl-C (SIGINT to the whole process group) stops both.

    With a copy of the session's ML Metadata store, so the session's own run history stays as it was; the
    pipeline root stays the session's, so the components reused from the cache point at outputs still there.
    """
    run_dir = tmp_path / "run"
    shutil.copytree(small_config_path.parent, run_dir)
    raw = json.loads((run_dir / "config.json").read_text())
    raw["pipeline"]["root"] = str(pipeline_run["config"].pipeline.root)
    raw["serving"].update(grpc_port=free_port(), rest_port=free_port())
    raw["app"].update(host="127.0.0.1", port=free_port())
    (run_dir / "config.json").write_text(json.dumps(raw))
    env = {**{k: v for k, v in os.environ.items() if k != run_log.VERBOSE_ENV}, configs.CONFIG_PATH_ENV:
           str(run_dir / "config.json")}
    process = subprocess.Popen([str(ROOT / "run.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(line.rstrip("\n") for line in process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{raw['app']['port']}/_stcore/health")
                 and answers(f"http://127.0.0.1:{raw['serving']['rest_port']}/v1/models/{raw['serving']['model_name']}"),
                 lambda: "the server and the app; the job's last lines:\n" + "\n".join(output[-40:]), 900,
                 interval=0.5, alive=process)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        returncode = process.wait(timeout=120)
        reader.join(10)
    assert returncode == 0, "\n".join(output[-40:])
    assert any("stopping the model server and the app" in line for line in output[-10:]), "\n".join(output[-40:])
    assert not answers(f"http://127.0.0.1:{raw['app']['port']}/_stcore/health")
    assert not answers(f"http://127.0.0.1:{raw['serving']['rest_port']}/v1/models/{raw['serving']['model_name']}")
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the job is left running
    lines = output[:next(i for i, line in enumerate(output) if "model server and app starting" in line)]
    assert len(lines) <= 60, "\n".join(lines)
    status = {line.split()[0]: line.split()[1] for line in lines if line.startswith("  ") and len(line.split()) == 4}
    assert {name: status.get(name) for name in CACHED} == dict.fromkeys(CACHED, "cached"), lines
    assert {name: status.get(name) for name in RERUN} == dict.fromkeys(RERUN, "ran"), lines
    assert not [line for line in lines if "absl" in line or "Component " in line], "library output leaked"
    assert lines[-1].startswith("report: ") and lines[-1].endswith(".html"), lines[-3:]  # the closing line is last
    leaked = [line for line in lines if any(word in line for word in ("Traceback", "Exception ignored", "Warning",
                                                                       "WARNING", "deprecat"))]
    assert not leaked, "a traceback or a library warning reached the terminal"
    log_line = next(line for line in lines if line.startswith("pipeline: full log in "))
    log_path = log_line.removeprefix("pipeline: full log in ").split(" (")[0]
    log_text = open(log_path, encoding="utf-8").read()
    assert "Component Evaluator is finished." in log_text


# A stand-in for the venv's python as scripts/serve_and_app.sh calls it (-m pipeline.cli serve|app): each service
# writes its pid, stops with 0 on SIGINT or SIGTERM as the real ones do, and the one named in FAIL exits with 3.
FAKE_PYTHON = """#!/usr/bin/env python3
import os, pathlib, signal, sys, time
service = sys.argv[3]
pathlib.Path(os.environ["PIDS"], service).write_text(str(os.getpid()))
if service == os.environ.get("FAIL"):
    time.sleep(0.5)
    sys.exit(3)
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: sys.exit(0))
print(service, "up", flush=True)
while True:
    time.sleep(0.1)
"""


def serve_and_app(tmp_path, fail: str = "") -> tuple[subprocess.Popen, Path]:
    """scripts/serve_and_app.sh with the stand-in services, in a process group of its own like a terminal's job."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    pids = tmp_path / "pids"
    pids.mkdir()
    process = subprocess.Popen([str(ROOT / "scripts" / "serve_and_app.sh"), str(fake)], env={
        **os.environ, "PIDS": str(pids), "FAIL": fail}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    return process, pids


@pytest.mark.parametrize("stop", ["ctrl-c", "one service stopped"])
def test_a_stop_ends_both_services_with_0_whichever_sees_it_first(tmp_path, stop):
    """Ctrl-C reaches the job and both services at once; the job may see its own signal only after a service
    has stopped on it, which the second case makes certain: a service stopped on its own (here by SIGTERM)."""
    process, pids = serve_and_app(tmp_path)
    wait_for(lambda: len(list(pids.iterdir())) == 2, "both services to start", alive=process)
    if stop == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(int((pids / "serve").read_text()), signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "stopping the model server and the app" in output
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def test_a_failed_service_stops_the_other_and_the_job_fails(tmp_path):
    process, pids = serve_and_app(tmp_path, fail="serve")
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 1, output
    assert "a background service exited with 3; stopping the other" in output
    with pytest.raises(ProcessLookupError):
        os.kill(int((pids / "app").read_text()), 0)  # the app was stopped, not left running


def test_quiet_sends_child_process_output_to_the_log_and_keeps_the_terminal(tmp_path, capfd):
    log_path = tmp_path / "logs" / "run.log"
    with run_log.quiet(log_path) as terminal:
        subprocess.run([sys.executable, "-c", "import sys; print('from a worker'); print('oops', file=sys.stderr)"],
                       check=True)
        print("progress line", file=terminal)
    print("after the run")
    seen = capfd.readouterr()
    assert "progress line" in seen.out and "after the run" in seen.out
    assert "from a worker" not in seen.out + seen.err
    assert "from a worker" in log_path.read_text() and "oops" in run_log.tail(log_path, 1)


def test_a_failed_run_restores_the_terminal(tmp_path, capfd):
    with pytest.raises(RuntimeError), run_log.quiet(tmp_path / "run.log"):
        raise RuntimeError("boom")
    print("still here")
    assert "still here" in capfd.readouterr().out


def failing_run(tmp_path, name: str, environ: dict[str, str]) -> subprocess.Popen:
    """`pipeline.cli pipeline` on a raw CSV that DataPreparation refuses (a label other than Pre/Post)."""
    folder = tmp_path / name
    folder.mkdir()
    source = folder / "raw.csv"
    source.write_text("asin,question,item_name,hours_diff,label\n"
                      "A1,does it fit a queen bed,mattress,-2,Pre\nA2,it broke after a week,mattress,90,Maybe\n")
    config = write_config(folder, {"data": {"source": str(source)}})
    env = {**{k: v for k, v in os.environ.items() if k != run_log.VERBOSE_ENV}, **environ}
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(config), "pipeline"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_failed_run_prints_its_logs_last_lines_and_verbose_streams_the_libraries(tmp_path):
    """README: the libraries' output goes to the run's log file, whose last lines are printed if the run fails;
    PPQ_VERBOSE=1 (or `--verbose`, the same switch: below) streams everything instead. Both runs go side by
    side and fail in their first component."""
    runs = {"quiet": failing_run(tmp_path, "quiet", {}),
            "verbose": failing_run(tmp_path, "verbose", {run_log.VERBOSE_ENV: "1"})}
    seen = {name: process.communicate(timeout=600) for name, process in runs.items()}
    refused = "error: column 'label' has 1 value(s) other than Pre/Post: {'Maybe': 1}"
    for name, process in runs.items():
        assert process.returncode == 2 and seen[name][1].splitlines()[-1] == refused, (name, seen[name][1][-2000:])

    out, err = seen["quiet"]
    log_path = next(line for line in out.splitlines() if line.startswith("pipeline: full log in "))
    log_path = log_path.removeprefix("pipeline: full log in ").split(" (")[0]
    header = f"pipeline: failed; the last lines of {log_path}:"
    assert err.startswith(header + "\n"), err[:500]
    shown = err.removeprefix(header + "\n").splitlines()[:-1]  # up to the one-line error
    while shown and not shown[-1]:
        shown.pop()
    log_lines = open(log_path, encoding="utf-8").read().splitlines()
    assert len(shown) >= 10 and shown == log_lines[-len(shown):], (shown, log_lines[-len(shown):])
    assert "ERROR:absl:Execution 1 failed." in shown  # the failure itself is among them
    assert "INFO:absl:Component DataPreparation is running." in log_lines
    assert "Component DataPreparation is running." not in out + err  # the rest stayed in the log

    out, err = seen["verbose"]
    assert "full log in" not in out and "pipeline: failed" not in err
    assert "INFO:absl:Component DataPreparation is running." in (out + err).splitlines()
    assert "ERROR:absl:Execution 1 failed." in err.splitlines()
    assert not (tmp_path / "verbose" / "results" / "logs").exists()


def test_the_verbose_flag_and_the_environment_variable_are_one_switch(monkeypatch):
    from pipeline.cli import build_parser
    monkeypatch.delenv(run_log.VERBOSE_ENV, raising=False)
    assert run_log.is_verbose(build_parser().parse_args(["--verbose", "pipeline"]).verbose)
    assert not run_log.is_verbose(build_parser().parse_args(["pipeline"]).verbose)
    for value, verbose in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv(run_log.VERBOSE_ENV, value)
        assert run_log.is_verbose(build_parser().parse_args(["pipeline"]).verbose) is verbose
