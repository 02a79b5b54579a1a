"""What a request may be, and how a refusal is answered: one gRPC code, mapped to HTTP for REST."""

from __future__ import annotations

from http import HTTPStatus

import grpc

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the default gRPC message limit; REST uses the same
MAX_BATCH = 10_000  # questions in one request

_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST, grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
                grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
                grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR}


class ServingError(Exception):
    """A request error with the gRPC code to answer with (mapped to HTTP for REST)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code

    @property
    def http_status(self) -> int:
        return int(_HTTP_STATUS.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR))


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)
