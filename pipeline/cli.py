"""Command line: each step of the job on its own (``./run.sh <command>`` or ``python -m pipeline.cli``).

Heavy libraries are imported inside the commands, so ``--help`` and config
errors answer at once. Errors users can act on print one line, no traceback
(set PPQ_DEBUG=1 to see it).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TextIO

from common import config as configs
from common.outputs import BATCH_INFERENCE_FILE
from pipeline import run_log
from signatures import LABEL_OUTPUT, PROBABILITY_OUTPUT


def cmd_prepare(config: configs.Config, args: argparse.Namespace) -> None:
    from dataprep import preparation
    preparation.prepare(config.data, force=args.force)


def cmd_run(config: configs.Config, args: argparse.Namespace) -> None:
    """Run the pipeline (data preparation is its first step), export predictions and the metrics summary."""
    print(f"pipeline: {config.pipeline.name} from {config.data.source}")
    verbose = run_log.is_verbose(args.verbose)
    log_path = run_log.log_path_for(config.pipeline.output_dir, "pipeline")
    if not verbose:
        print(f"pipeline: full log in {log_path} (--verbose streams it here)")
    with _libraries_to(None if verbose else log_path) as terminal:
        import local_runner
        from models.layout import list_versions
        before = set(list_versions(config.serving.model_base_path))
        seconds = local_runner.run(config)
        print(f"pipeline: finished in {seconds:.0f} s", file=terminal, flush=True)
        for pushed in sorted(set(list_versions(config.serving.model_base_path)) - before):
            from deploy import rollout
            labels = rollout.after_push(config.serving, pushed)
            print(f"rollout ({config.serving.versions.rollout}): version labels {labels} in "
                  f"{config.serving.model_config_path}", file=terminal, flush=True)
        _report(config, round(seconds, 1), terminal)


@contextlib.contextmanager
def _libraries_to(log_path: Path | None) -> Iterator[TextIO]:
    """The libraries' output (TFX, Beam, TensorFlow, TFMA's deprecation warnings) into ``log_path``; yields the terminal.

    With no log path (--verbose) everything streams here. On a failure the log's last lines are printed.
    """
    if log_path is None:
        yield sys.stdout
        return
    try:
        with run_log.quiet(log_path) as terminal:
            yield terminal
    except Exception:
        print(f"pipeline: failed; the last lines of {log_path}:\n{run_log.tail(log_path)}", file=sys.stderr)
        raise


def cmd_report(config: configs.Config, args: argparse.Namespace) -> None:
    _report(config)


def _report(config: configs.Config, pipeline_seconds: float | None = None, out: TextIO | None = None) -> None:
    """The report step (predictions, run document, HTML report) of the latest run, and the closing lines."""
    from reporting import run_report
    pipeline = config.pipeline
    document = run_report.report(pipeline.metadata_path, pipeline.output_dir, config.data.random_seed, pipeline_seconds)
    say = functools.partial(print, file=out or sys.stdout, flush=True)  # the closing lines reach the terminal
    if document.serving_check:
        say(f"serving check: {document.serving_check}")
    say(f"model blessed: {document.blessed}; pushed to: {document.pushed_model_dir or 'nothing pushed'}")
    if not document.blessed:
        say("the new model did not pass the Evaluator's thresholds (see the metrics summary); "
            "the previously pushed version, if any, stays in service")
    test = document.test_split
    if test.tfx_model is not None:
        say(f"test AUC: TFX model {test.tfx_model.auc:.4f}, TF-IDF + logistic regression "
            f"{test.tfidf_logistic_regression.auc:.4f}; accuracy {test.tfx_model.accuracy:.4f}")
        say(f"predictions: {pipeline.predictions_path}")
    if document.check_set is not None:
        check = document.check_set
        say(f"check set ({check.examples} hand-written questions): accuracy {check.accuracy:.4f}, AUC {check.auc:.4f}")
    if document.holdout_set is not None:
        holdout = document.holdout_set
        say(f"held-out set ({holdout.examples} hand-written questions, never used to choose): "
            f"accuracy {holdout.accuracy:.4f}, AUC {holdout.auc:.4f}")
    say(f"metrics summary: {pipeline.summary_path}")
    say(f"report: {document.report}")


def cmd_infer(config: configs.Config, args: argparse.Namespace) -> None:
    """Batch inference with the pushed model, in-process, on a CSV with a question column.

    In-process rather than the pipeline's Beam step: on one machine the same SavedModel calls are as fast,
    without Beam's start-up (docs/performance.md has the figures).
    """
    import features
    from common.files import write_atomically
    from dataprep import splits
    from models.pushed_models import LoadedModel
    from reporting.run_artifacts import latest_prepared_splits
    if args.input:
        source = Path(args.input)
    else:
        source = splits.split_path(latest_prepared_splits(config.pipeline.metadata_path)[0], "test")
    if not source.is_file():
        raise FileNotFoundError(f"input CSV not found: {source}")
    frame = splits.read_csv_as_text(source)
    if features.QUESTION not in frame.columns:
        raise ValueError(f"{source} has no {features.QUESTION!r} column (found {list(frame.columns)})")
    model = LoadedModel.load(config.serving.model_base_path)
    batch_size = args.batch_size or config.batch_scoring.batch_size
    probabilities, labels = model.predict_in_batches(frame[features.QUESTION].tolist(), batch_size, progress=True)
    frame[PROBABILITY_OUTPUT], frame[LABEL_OUTPUT] = probabilities.tolist(), labels
    target = Path(args.output) if args.output else config.pipeline.output_dir / BATCH_INFERENCE_FILE
    write_atomically(target, frame.to_csv(index=False))
    print(f"wrote {len(frame)} predictions to {target}")


def cmd_predict(config: configs.Config, args: argparse.Namespace) -> None:
    """Predict one question: from the model server (gRPC or REST), or from the pushed model in-process."""
    question = args.question.strip()
    if not question:
        raise ValueError("the question is empty")
    from reporting import explain
    if args.in_process and (args.label or args.version):
        raise ValueError("--label and --version ask the model server; --in-process loads the newest pushed version")
    with (_InProcess(config) if args.in_process
          else make_client(config, args.transport, args.label, args.version)) as predictor:
        if args.explain:
            print(json.dumps(explain.as_dict(explain.explain(predictor, question))))
            return
        prediction = predictor.predict([question])[0]
    print(json.dumps({"question": question, LABEL_OUTPUT: prediction.label,
                      PROBABILITY_OUTPUT: round(prediction.probability_post, 4), "model_version": prediction.model_version}))


class _InProcess:
    """The pushed model called here, answering as the server's client does (for ``predict --in-process``)."""

    def __init__(self, config: configs.Config):
        from models.pushed_models import LoadedModel
        self.model = LoadedModel.load(config.serving.model_base_path)

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def predict(self, questions: list[str]) -> list:
        from serving.client import Prediction
        probabilities, labels = self.model.predict(questions)
        return [Prediction(q, label, float(p), self.model.version)
                for q, label, p in zip(questions, labels, probabilities, strict=True)]


def make_client(config: configs.Config, transport: str = "grpc", label: str | None = None, version: int | None = None):
    from serving.client import ModelClient
    serving = config.serving
    return ModelClient(serving.host, serving.model_name, serving.grpc_port, serving.rest_port, transport=transport,
                       timeout=serving.request_timeout_seconds, label=label, version=version)


def _change_labels(config: configs.Config, operation: str) -> None:
    """promote / rollback: rewrite the model config file, checked against the versions the server has loaded."""
    from deploy import rollout
    with make_client(config) as client:
        loaded = rollout.loaded_versions(client.status())
    before = rollout.current_labels(config.serving)
    after = getattr(rollout, operation)(config.serving, loaded)
    print(f"{operation}: version labels {before} -> {after} in {config.serving.model_config_path} "
          f"(the server applies it within {config.serving.poll_seconds:g} s)")


def cmd_promote(config: configs.Config, args: argparse.Namespace) -> None:
    _change_labels(config, "promote")


def cmd_rollback(config: configs.Config, args: argparse.Namespace) -> None:
    _change_labels(config, "rollback")


def cmd_serve(config: configs.Config, args: argparse.Namespace) -> None:
    """The local TensorFlow-Serving-protocol server over the serving directory."""
    import logging

    from serving.server import ModelServer, serve_forever
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve_forever(ModelServer.from_config(config.serving))


def cmd_app(config: configs.Config, args: argparse.Namespace) -> None:
    """The Streamlit app (it reads the same config; the model server must be running)."""
    app = configs.PROJECT_ROOT / "app" / "app.py"
    env = {**os.environ, configs.CONFIG_PATH_ENV: str(config.path)}
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", config.app.host,
               "--server.port", str(config.app.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    print(f"app: http://{config.app.host}:{config.app.port}", flush=True)
    os.execvpe(command[0], command, env)  # become Streamlit, so signals reach it directly


def cmd_compile_kubeflow(config: configs.Config, args: argparse.Namespace) -> None:
    import kubeflow_v2_runner
    package, job = kubeflow_v2_runner.compile_pipeline(config)
    print(f"Kubeflow Pipelines package: {package}; Vertex AI PipelineJob: {job} "
          f"(image {config.kubeflow.image}, root {config.kubeflow.pipeline_root})")
    from pipeline import monitoring_pipeline
    print(f"monitoring pipeline (for a recurring run): {monitoring_pipeline.compile_monitoring(config)}")


def cmd_render_kubernetes(config: configs.Config, args: argparse.Namespace) -> None:
    from deploy import manifests
    folder = manifests.render(config)
    print(f"Kubernetes manifests: {folder} (kubectl apply -k {folder})")
    print(f"compose stack: {manifests.render_compose(config)} (docker compose up)")


def cmd_monitor(config: configs.Config, args: argparse.Namespace) -> None:
    """Skew and drift of the request log's latest window with TFDV (monitoring.job), or the two-stream demo."""
    from monitoring import job, simulate
    if args.simulate:
        unshifted, shifted = simulate.run(config)
        print(f"simulate: like-training stream {'ALERT' if unshifted.result.alert else 'ok'}; "
              f"shifted stream {'ALERT' if shifted.result.alert else 'ok'}")
        return
    window = job.run(config)
    if args.fail_on_alert and window is not None and window.result.alert:
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.sh", description="Pre/Post purchase question classifier (TFX).")
    parser.add_argument("--config", help="config file (default: config.json, or $PPQ_CONFIG)")
    parser.add_argument("--verbose", action="store_true",
                        help=f"stream the libraries' full output instead of a log file (or set {run_log.VERBOSE_ENV}=1)")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="raw CSV -> stratified train/eval/test splits")
    prepare.add_argument("--force", action="store_true", help="rebuild even if the splits are up to date")
    prepare.set_defaults(func=cmd_prepare)
    commands.add_parser("pipeline", help="run the TFX pipeline from the raw CSV, write predictions and metrics"
                        ).set_defaults(func=cmd_run)
    commands.add_parser("report", help="re-export predictions and metrics from the latest run"
                        ).set_defaults(func=cmd_report)
    infer = commands.add_parser("infer", help="batch inference with the pushed model on a CSV")
    infer.add_argument("--input", help="CSV with a 'question' column (default: the latest run's test split)")
    infer.add_argument("--output", help="output CSV (default: <output_dir>/batch_inference.csv)")
    infer.add_argument("--batch-size", type=int, help="questions per model call (default: batch_scoring.batch_size)")
    infer.set_defaults(func=cmd_infer)
    predict = commands.add_parser("predict", help="predict one question (model server, or --in-process)")
    predict.add_argument("question")
    predict.add_argument("--transport", choices=("grpc", "rest"), default="grpc")
    predict.add_argument("--in-process", action="store_true", help="load the pushed model here instead")
    predict.add_argument("--explain", action="store_true",
                         help="also each word's effect on P(Post) (leave-one-word-out: one request, or in-process)")
    pinned = predict.add_mutually_exclusive_group()
    pinned.add_argument("--label", help="ask for the version this label names (e.g. stable, canary)")
    pinned.add_argument("--version", type=int, help="ask for this version")
    predict.set_defaults(func=cmd_predict)
    commands.add_parser("promote", help="make the canary version stable (model config file; the server must be up)"
                        ).set_defaults(func=cmd_promote)
    commands.add_parser("rollback", help="put the previous stable version back (model config file)"
                        ).set_defaults(func=cmd_rollback)
    commands.add_parser("serve", help="run the local TensorFlow-Serving-protocol model server").set_defaults(func=cmd_serve)
    commands.add_parser("app", help="run the Streamlit app").set_defaults(func=cmd_app)
    commands.add_parser("compile-kubeflow", help="compile the pipeline for Kubeflow Pipelines (YAML) and Vertex AI (JSON)"
                        ).set_defaults(func=cmd_compile_kubeflow)
    commands.add_parser("render-kubernetes", help="write the Kubernetes manifests and docker-compose.yml from config.json"
                        ).set_defaults(func=cmd_render_kubernetes)
    monitor = commands.add_parser("monitor", help="skew and drift of the logged requests against the training data (TFDV)")
    monitor.add_argument("--fail-on-alert", action="store_true", help="exit 1 when a distance is over its threshold")
    monitor.add_argument("--simulate", action="store_true",
                         help="send a like-training and a shifted stream over gRPC and check each")
    monitor.set_defaults(func=cmd_monitor)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``./run.sh <command>``: the command's exit status (2 on an error the user can act on)."""
    args = build_parser().parse_args(argv)
    return guarded(lambda: args.func(configs.load(args.config), args))


def guarded(action: Callable[[], object]) -> int:
    """Run ``action``; any failure becomes one ``error: …`` line and exit status 2 (the runner files use it too)."""
    try:
        action()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into a readable line
        if os.environ.get(configs.DEBUG_ENV):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def exit_now(code: int) -> NoReturn:
    """Flush, then end the process without the interpreter's teardown.

    TensorFlow's function objects (a loaded SavedModel's, the Transform graph's) that are still alive when the
    interpreter tears down its modules are finalised after the modules they need are gone, and each prints an
    "Exception ignored in: AtomicFunction.__del__" traceback. Every output is written atomically and closed by
    now, so there is nothing left for the teardown to do.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
