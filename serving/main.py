"""The model server from the command line, with tensorflow_model_server's flag names (no config.json needed).

``python -m serving.main --port=8500 --rest_api_port=8501 --model_name=prepost --model_base_path=/models/prepost``
(``--model_config_file`` instead of the base path serves what that file says). The serving check
(components.serving_check) starts it this way over a candidate model; ``./run.sh serve`` starts the same
server from config.json. Binds to 127.0.0.1 unless ``--host`` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from serving.server import ModelServer, serve_forever
from serving.versions import TF_SERVING_RETRIES, LoadRetries


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serving.main", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free one)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="REST port (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_base_path", type=Path, required=True)
    parser.add_argument("--model_config_file", type=Path)
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0)
    parser.add_argument("--max_num_load_retries", type=int, default=TF_SERVING_RETRIES.max_retries)
    parser.add_argument("--load_retry_interval_micros", type=int,
                        default=int(TF_SERVING_RETRIES.interval_seconds * 1e6))
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve_forever(ModelServer(args.model_name, args.model_base_path, args.host, args.port, args.rest_api_port,
                              args.file_system_poll_wait_seconds, None,
                              LoadRetries(args.max_num_load_retries, args.load_retry_interval_micros / 1e6),
                              args.model_config_file))


if __name__ == "__main__":
    main()
