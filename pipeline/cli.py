"""Command line: each step of the job on its own (``./run.sh <command>`` or ``python -m pipeline.cli``).

Heavy libraries are imported inside the commands, so ``--help`` and config
errors answer at once. Errors users can act on print one line, no traceback
(set PPQ_DEBUG=1 to see it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from pipeline import configs, run_log


def cmd_prepare(config: configs.Config, args: argparse.Namespace) -> None:
    from dataprep import preparation
    preparation.prepare(config.data, force=args.force)


def cmd_run(config: configs.Config, args: argparse.Namespace) -> None:
    """Run the pipeline (data preparation is its first step), export predictions and the metrics summary."""
    from reporting.run_artifacts import latest_prepared_splits
    print(f"pipeline: {config.pipeline.name} from {config.data.source}")
    seconds = _run_pipeline(config, run_log.is_verbose(args.verbose))
    print(f"pipeline: finished in {seconds:.0f} s")
    prepared_dir, manifest = latest_prepared_splits(config.pipeline.metadata_path)
    _report(config, prepared_dir, {"pipeline_seconds": round(seconds, 1), "data_manifest": manifest})


def _run_pipeline(config: configs.Config, verbose: bool) -> float:
    """The local run; unless verbose, one line per component here and the libraries' output in a log file."""
    if verbose:
        from pipeline import local_runner
        return local_runner.run(config)
    log_path = run_log.log_path_for(config.pipeline.output_dir, "pipeline")
    print(f"pipeline: full log in {log_path} (--verbose streams it here)")
    try:
        with run_log.quiet(log_path):
            from pipeline import local_runner
            return local_runner.run(config)
    except Exception:
        print(f"pipeline: failed; the last lines of {log_path}:\n{run_log.tail(log_path)}", file=sys.stderr)
        raise


def cmd_report(config: configs.Config, args: argparse.Namespace) -> None:
    from reporting.run_artifacts import latest_prepared_splits
    _report(config, latest_prepared_splits(config.pipeline.metadata_path)[0], {})


def _report(config: configs.Config, prepared_dir: Path, extra: dict) -> None:
    """The metrics summary, predictions and HTML report of the latest run, whose splits are ``prepared_dir``."""
    from reporting import summary
    report = summary.write_report(config.pipeline.metadata_path, prepared_dir,
                                  config.pipeline.output_dir, config.data.random_seed, extra)
    print(f"model blessed: {report['blessed']}; pushed to: {report['pushed_model_dir'] or 'nothing pushed'}")
    if not report["blessed"]:
        print("the new model did not pass the Evaluator's thresholds (see the metrics summary); "
              "the previously pushed version, if any, stays in service")
    test = report["test_split"]
    if "tfx_model" in test:
        print(f"test AUC: TFX model {test['tfx_model']['auc']:.4f}, "
              f"TF-IDF + logistic regression {test['tfidf_logistic_regression']['auc']:.4f}; "
              f"accuracy {test['tfx_model']['accuracy']:.4f}")
        print(f"predictions: {config.pipeline.predictions_path}")
    if "check_set" in report:
        check = report["check_set"]
        print(f"check set ({check['examples']} hand-written questions): accuracy {check['accuracy']:.4f}, AUC {check['auc']:.4f}")
    print(f"metrics summary: {config.pipeline.summary_path}")
    from reporting.html_report import write_html_report
    pipeline = config.pipeline
    print(f"report: {write_html_report(pipeline.metadata_path, pipeline.output_dir, config.data.random_seed, test)}")


def cmd_infer(config: configs.Config, args: argparse.Namespace) -> None:
    """Batch inference with the pushed model, in-process, on a CSV with a question column.

    In-process rather than the pipeline's Beam step: on one machine the same SavedModel calls are as fast,
    without Beam's start-up (docs/performance.md has the figures).
    """
    import features
    from dataprep import splits
    from pipeline.files import write_atomically
    from reporting.run_artifacts import latest_prepared_splits
    from serving.model_versions import LoadedModel
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
    frame["probability_post"], frame["predicted_label"] = probabilities.tolist(), labels
    target = Path(args.output) if args.output else config.pipeline.output_dir / "batch_inference.csv"
    write_atomically(target, frame.to_csv(index=False))
    print(f"wrote {len(frame)} predictions to {target}")


def cmd_predict(config: configs.Config, args: argparse.Namespace) -> None:
    """Predict one question: from the model server (gRPC or REST), or from the pushed model in-process."""
    question = args.question.strip()
    if not question:
        raise ValueError("the question is empty")
    if args.explain:
        from reporting import explain
        with make_client(config, args.transport) as client:
            print(json.dumps(explain.as_dict(explain.explain(client, question))))
        return
    if args.in_process:
        from serving.model_versions import LoadedModel
        model = LoadedModel.load(config.serving.model_base_path)
        probabilities, labels = model.predict([question])
        label, probability, version = labels[0], float(probabilities[0]), model.version
    else:
        with make_client(config, args.transport) as client:
            prediction = client.predict([question])[0]
        label, probability, version = prediction.label, prediction.probability_post, prediction.model_version
    print(json.dumps({"question": question, "predicted_label": label, "probability_post": round(probability, 4),
                      "model_version": version}))


def make_client(config: configs.Config, transport: str = "grpc"):
    from serving.client import ModelClient
    serving = config.serving
    return ModelClient(serving.host, serving.model_name, serving.grpc_port, serving.rest_port, transport=transport,
                       timeout=serving.request_timeout_seconds)


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
    from pipeline import kubeflow_v2_runner
    package, job = kubeflow_v2_runner.compile_pipeline(config)
    print(f"Kubeflow Pipelines package: {package}; Vertex AI PipelineJob: {job} "
          f"(image {config.kubeflow.image}, root {config.kubeflow.pipeline_root})")
    from monitoring import kubeflow
    print(f"monitoring pipeline (for a recurring run): {kubeflow.compile_monitoring(config)}")


def cmd_render_kubernetes(config: configs.Config, args: argparse.Namespace) -> None:
    from deploy import manifests
    folder = manifests.render(config)
    print(f"Kubernetes manifests: {folder} (kubectl apply -k {folder})")


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
                         help="also each word's effect on P(Post) (leave-one-word-out, one request to the server)")
    predict.set_defaults(func=cmd_predict)
    commands.add_parser("serve", help="run the local TensorFlow-Serving-protocol model server").set_defaults(func=cmd_serve)
    commands.add_parser("app", help="run the Streamlit app").set_defaults(func=cmd_app)
    commands.add_parser("compile-kubeflow", help="compile the pipeline for Kubeflow Pipelines (YAML) and Vertex AI (JSON)"
                        ).set_defaults(func=cmd_compile_kubeflow)
    commands.add_parser("render-kubernetes", help="write the TF Serving and app manifests for Kubernetes from config.json"
                        ).set_defaults(func=cmd_render_kubernetes)
    monitor = commands.add_parser("monitor", help="skew and drift of the logged requests against the training data (TFDV)")
    monitor.add_argument("--fail-on-alert", action="store_true", help="exit 1 when a distance is over its threshold")
    monitor.add_argument("--simulate", action="store_true",
                         help="send a like-training and a shifted stream over gRPC and check each")
    monitor.set_defaults(func=cmd_monitor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = configs.load(args.config)
        args.func(config, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into a readable line
        if os.environ.get(configs.DEBUG_ENV):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
