"""``./run.sh monitor --simulate``: two streams over gRPC, and the alert fires on the shifted one only.

A model server (this project's, over the pushed versions, logging every request into a folder of its own)
receives first questions drawn from the served version's training split, then a shifted stream: long
complaints from owners ("my ... stopped working ..."), which moves the word count, the first word, first person
and the predicted class. After each stream the log is flushed and one monitoring check runs on that stream's
window; its report goes to ``<monitoring.output_dir>/simulate``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

import features
from common.config import Config
from monitoring import job, records

STREAM_SIZE = 300
_PRODUCTS = ("coffee maker", "blender", "vacuum", "headphones", "kettle", "printer", "router", "air fryer")
_FAULTS = ("stopped working", "keeps shutting off", "makes a grinding noise", "will not turn on any more",
           "started leaking water", "shows an error code every morning")


def shifted_questions(count: int, seed: int = 0) -> list[str]:
    """Long owners' complaints, unlike the training data's mostly short, mixed questions."""
    rng = np.random.default_rng(seed)
    return [f"my {rng.choice(_PRODUCTS)} {rng.choice(_FAULTS)} after {rng.integers(2, 60)} days of normal use and "
            f"i already tried resetting it twice, what should i do to get it fixed or replaced under the warranty"
            for _ in range(count)]


def like_training(training_questions: list[str], count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [training_questions[i] for i in rng.choice(len(training_questions), count,
                                                      replace=len(training_questions) < count)]


def run(config: Config, stream_size: int = STREAM_SIZE) -> tuple[job.Window, job.Window]:
    """Send both streams, check after each; (like-training window, shifted window)."""
    from models.layout import latest_version
    from serving import request_log
    from serving.client import ModelClient
    from serving.server import ModelServer
    serving = config.serving
    version = latest_version(serving.model_base_path)
    training = job.training_features(config, version)[features.QUESTION].tolist()
    with tempfile.TemporaryDirectory(prefix="ppq-simulate-") as tmp:
        log = dataclasses.replace(serving.logging, filename_prefix=Path(tmp) / "prediction_log", sampling_rate=1.0,
                                  max_file_seconds=3600.0)
        monitoring = dataclasses.replace(config.monitoring, window_records=stream_size, window_minutes=0,
                                         output_dir=config.monitoring.output_dir / "simulate")
        server = ModelServer(serving.model_name, serving.model_base_path, serving.host, 0, 0, serving.poll_seconds,
                             serving.batching if serving.enable_batching else None, request_log=log)
        server.start()
        try:
            with ModelClient(serving.host, serving.model_name, grpc_port=server.grpc_port,
                             rest_port=server.rest_port, timeout=serving.request_timeout_seconds) as client:
                windows = []
                for name, questions in (("like the training data", like_training(training, stream_size)),
                                        ("shifted: long owners' complaints", shifted_questions(stream_size))):
                    print(f"simulate: sending {len(questions)} questions over gRPC, {name}")
                    for question in questions:
                        client.predict([question])
                    server.request_log.flush()
                    logged = records.read_log(request_log.log_files(log.filename_prefix))
                    window = job.check_logged(logged, monitoring, lambda v: job.training_features(config, v))
                    print(job.screenful(window, job.write_outputs(monitoring.output_dir, window)))
                    windows.append(window)
        finally:
            server.stop(grace=1)
    return windows[0], windows[1]
