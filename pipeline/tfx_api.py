"""The part of TFX's public ``tfx.v1`` API that the local pipeline uses, without the cloud extensions.

``from tfx import v1`` also imports ``tfx.v1.extensions``: the Vertex AI client (google.cloud.aiplatform)
and BigQuery, about 6 s of every run's start-up, though no component of this pipeline uses them. This
module gives the same names (``tfx.components.Trainer``, ``tfx.proto.TrainArgs``, ``tfx.dsl.Pipeline``...)
from the modules that define them; use it as ``from pipeline import tfx_api as tfx``.
"""

from types import SimpleNamespace

from tfx.components import (
    CsvExampleGen,
    Evaluator,
    ExampleValidator,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import Channel, standard_artifacts

components = SimpleNamespace(CsvExampleGen=CsvExampleGen, StatisticsGen=StatisticsGen, SchemaGen=SchemaGen,
                             ExampleValidator=ExampleValidator, Transform=Transform, Trainer=Trainer,
                             Evaluator=Evaluator, Pusher=Pusher)
proto = SimpleNamespace(Input=example_gen_pb2.Input, SplitsConfig=transform_pb2.SplitsConfig,
                        TrainArgs=trainer_pb2.TrainArgs, EvalArgs=trainer_pb2.EvalArgs,
                        PushDestination=pusher_pb2.PushDestination)
dsl = SimpleNamespace(Pipeline=Pipeline, Resolver=Resolver, Channel=Channel,
                      experimental=SimpleNamespace(LatestBlessedModelStrategy=LatestBlessedModelStrategy))
types = SimpleNamespace(standard_artifacts=standard_artifacts)
orchestration = SimpleNamespace(LocalDagRunner=LocalDagRunner, metadata=metadata)
