"""The names of the files a run writes under ``pipeline.output_dir``: the one home of each name."""

PREDICTIONS_FILE = "predictions.csv"  # the test split with each question's P(Post) and label
SUMMARY_FILE = "metrics_summary.json"  # the run's metrics summary
EVALUATION_FILE = "evaluation.json"  # what the app's Evaluation tab reads (reporting/evaluation_file.py)
BATCH_INFERENCE_FILE = "batch_inference.csv"  # `infer`'s default output
REPORTS_DIR = "reports"  # one HTML evaluation report per run
LOGS_DIR = "logs"  # one log file per pipeline command
