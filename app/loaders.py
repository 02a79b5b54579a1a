"""The app's cached reads: config, the run's files, the server's client and a scored upload.

Streamlit reruns the page on every interaction; these make a rerun cost nothing that has not changed. Files are
keyed on their modification time, so a new pipeline run shows at the next rerun; an upload is keyed on its bytes
and the served versions, so moving a slider never re-scores it, and a newly loaded model does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from app import batch
from common import config as configs
from reporting import evaluation_file
from reporting import run_document as run_document_module
from serving.client import ModelClient
from serving.request_log import RequestLogger


def _modified(path: Path) -> float:
    return path.stat().st_mtime if path.is_file() else 0.0


def config() -> configs.Config:
    """config.json (or $PPQ_CONFIG) with its environment overrides, read again only when one of them changes."""
    path = Path(os.environ.get(configs.CONFIG_PATH_ENV) or configs.DEFAULT_CONFIG_PATH).resolve()
    overrides = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(configs.ENV_PREFIX)))
    return _config(str(path), _modified(path), overrides)


@st.cache_resource(show_spinner=False)
def _config(path: str, modified: float, overrides: tuple[tuple[str, str], ...]) -> configs.Config:
    return configs.load(path, environ=dict(overrides))


@st.cache_resource(show_spinner=False)
def client(host: str, model_name: str, grpc_port: int, rest_port: int, timeout: float) -> ModelClient:
    return ModelClient(host, model_name, grpc_port=grpc_port, rest_port=rest_port, transport="grpc", timeout=timeout,
                       retries=1)


@st.cache_resource(show_spinner=False)
def request_log(key: str, _config: configs.RequestLogConfig, model_name: str) -> RequestLogger:
    """The client-side request log, for a TensorFlow Serving that cannot log (serving.logging.client_side)."""
    return RequestLogger(_config, model_name)


@st.cache_data(show_spinner=False)
def run_document(path: str, modified: float) -> run_document_module.RunDocument:
    """The latest run's document (``modified`` makes a new run reload)."""
    return run_document_module.read(Path(path))


@st.cache_data(show_spinner=False)
def evaluation(output_dir: str, modified: float) -> dict | None:
    """The latest report's tables (``modified`` makes a new report reload)."""
    return evaluation_file.read(Path(output_dir))


def scored_upload(data: bytes, model_client: ModelClient) -> pd.DataFrame:
    """Every row of the upload with its prediction or status; scored once per file and served model version."""
    versions = tuple(s["version"] for s in model_client.status() if s["state"] == "AVAILABLE")
    return _scored(data, model_client.address, model_client.model_name, versions, model_client)


@st.cache_data(show_spinner="Scoring the upload…", max_entries=16)
def _scored(data: bytes, address: str, model_name: str, versions: tuple[str, ...],
            _client: ModelClient) -> pd.DataFrame:
    return batch.score(batch.read_upload(data), _client.predict)
