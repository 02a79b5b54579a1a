"""The Prometheus endpoint's path and the metric names: shared by the server, its client, scrapers and deploy files.

TensorFlow Serving's own names where it has one, so dashboards written for it work on either server.
"""

PATH = "/monitoring/prometheus/metrics"
REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
BATCH_SIZE = ":tensorflow:serving:batching:processed_batch_size"
QUEUING_LATENCY = ":tensorflow:serving:batching:queuing_latency"
QUEUE_ROWS = "ppq_model_server_batch_queue_rows"
VERSION_LATENCY = "ppq_model_server_version_request_latency"
CONFIG_ERRORS = "ppq_model_server_model_config_errors"
