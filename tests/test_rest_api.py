"""The REST front end's own rules, on a stand-in API (no model): the catch-all answers JSON 500 and keeps
serving, and a body the JSON parser cannot nest that deep is a 400."""

from __future__ import annotations

import threading

import grpc
import pytest
import requests

from serving.errors import ServingError
from serving.rest_api import RestApi, RestServer


class Failing:
    """An API whose predict fails as no request should make it fail: the handler's last line of defence."""

    def predict(self, path: str, raw: bytes):
        if raw == b"boom":
            raise RuntimeError("a bug")
        if raw == b"refuse":
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "refused")
        return 200, {"predictions": [len(raw)]}


@pytest.fixture
def rest_server():
    servers = []

    def start(api) -> str:
        server = RestServer(("127.0.0.1", 0), api)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1/models/m:predict"
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes) -> tuple[int | str, object]:
    """Status and JSON answer, or "dropped" when the server closed the connection without an answer."""
    try:
        response = requests.post(url, data=body, timeout=30)
    except requests.ConnectionError as exc:
        return "dropped", str(exc)
    return response.status_code, response.json()


def test_an_unexpected_failure_is_a_json_500_naming_its_type_and_the_server_keeps_answering(rest_server):
    url = rest_server(Failing())
    assert post(url, b"boom") == (500, {"error": "internal error: RuntimeError"})
    assert post(url, b"refuse") == (400, {"error": "refused"})
    assert post(url, b"fine") == (200, {"predictions": [4]})


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_json_nested_deeper_than_the_parser_allows_is_a_400(rest_server, depth):
    url = rest_server(RestApi(manager=None, runner=None, server_metrics=_Metrics()))
    status, answer = post(url, b'{"instances": ' + b"[" * depth + b"]" * depth + b"}")
    assert (status, answer) == (400, {"error": "JSON Parse error: the body is nested too deeply"})


class _Metrics:
    def request_done(self, *args) -> None:
        pass
