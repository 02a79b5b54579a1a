"""gRPC: TensorFlow Serving's PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus).

Predict's path: the request's string values go straight into one numpy array (no TensorFlow
conversion), the batcher calls the signature, and this caller's rows go straight into the response
(no TensorProto copies).
"""

from __future__ import annotations

import logging
import math
import time

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

from serving.batching import Runner
from serving.errors import MAX_BATCH, ServingError, invalid
from serving.metrics import ServerMetrics
from serving.request_log import RequestLogger
from serving.versions import ModelManager

LOG = logging.getLogger("model-server")


def to_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """A request tensor as numpy: a 1-D string tensor directly, anything else through TensorFlow."""
    dims = proto.tensor_shape.dim
    if proto.dtype == types_pb2.DT_STRING and len(dims) == 1 and dims[0].size == len(proto.string_val):
        return np.array(list(proto.string_val), dtype=object)
    sizes = [d.size for d in dims]
    if any(size < 0 for size in sizes) or math.prod(sizes) > MAX_BATCH:  # a few bytes may declare a huge shape
        raise invalid(f"input tensor of shape {sizes} is over the limit of {MAX_BATCH} values")
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError, KeyError) as exc:  # KeyError: a dtype numpy has no type for (e.g. DT_RESOURCE)
        raise invalid(f"malformed input tensor: {type(exc).__name__}: {exc}") from exc


_VALUE_FIELDS = {types_pb2.DT_FLOAT: "float_val", types_pb2.DT_DOUBLE: "double_val", types_pb2.DT_INT32: "int_val",
                 types_pb2.DT_INT64: "int64_val", types_pb2.DT_BOOL: "bool_val"}


def fill_tensor(proto: tensor_pb2.TensorProto, value: np.ndarray) -> None:
    """Write an output array into a response tensor in place, in the typed value fields as TensorFlow Serving does."""
    for size in value.shape:
        proto.tensor_shape.dim.add(size=size)
    if value.dtype == object or value.dtype.kind == "S":
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(value.ravel().tolist())
        return
    proto.dtype = tf.as_dtype(value.dtype).as_datatype_enum
    field = _VALUE_FIELDS.get(proto.dtype)
    if field:
        getattr(proto, field).extend(value.ravel().tolist())
    else:
        proto.tensor_content = value.tobytes()


def _version(spec) -> int | None:
    return spec.version.value if spec.HasField("version") else None


def _label(spec) -> str | None:
    return spec.version_label if spec.WhichOneof("version_choice") == "version_label" else None


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: ModelManager, runner: Runner, metrics: ServerMetrics,
                 request_log: RequestLogger | None = None):
        self.manager, self.runner, self.metrics, self.request_log = manager, runner, metrics, request_log

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> predict_pb2.PredictResponse:  # noqa: N802
        started, status, version = time.perf_counter(), "OK", None
        try:
            response = self._predict(request)
            version = response.model_spec.version.value
            if self.request_log is not None:
                self.request_log.log(request, response)
            return response
        except ServingError as error:
            status = error.code.name
            context.abort(error.code, str(error))
        except Exception as exc:  # noqa: BLE001 - answer, log, and keep serving
            LOG.exception("Predict failed")
            status = "INTERNAL"
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
        finally:
            self.metrics.request_done("predict", "GRPC", status, time.perf_counter() - started, version)

    def _predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        spec = request.model_spec
        model = self.manager.get(spec.name, _version(spec), _label(spec))
        signature = model.signature(spec.signature_name)
        outputs = self.runner.run(signature, {key: to_array(value) for key, value in request.inputs.items()})
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = model.version
        response.model_spec.signature_name = signature.name
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                fill_tensor(response.outputs[key], value)
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if list(request.metadata_field) != ["signature_def"]:
                raise invalid("metadata_field must be ['signature_def']")
            model = self.manager.get(request.model_spec.name, _version(request.model_spec), _label(request.model_spec))
        except ServingError as error:
            context.abort(error.code, str(error))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = model.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in model.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response.metadata["signature_def"].CopyFrom(packed)
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager):
        self.manager = manager

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            entries = self.manager.status(request.model_spec.name, _version(request.model_spec))
        except ServingError as error:
            context.abort(error.code, str(error))
        response = get_model_status_pb2.GetModelStatusResponse()
        for entry in entries:
            response.model_version_status.add(
                version=entry.version, state=entry.state,
                status=status_pb2.StatusProto(error_code=entry.error_code.value[0], error_message=entry.error_message))
        return response


def add_services(server: grpc.Server, manager: ModelManager, runner: Runner, metrics: ServerMetrics,
                 request_log: RequestLogger | None = None) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(manager, runner, metrics, request_log), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(manager), server)

