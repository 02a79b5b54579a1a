"""The pushed SavedModel needs only core TensorFlow ops, so the stock tensorflow/serving image can serve it.

The check runs as its own process (python -m deploy.saved_model_ops), which imports TensorFlow and nothing
else, so the op registry it compares with holds core ops only.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorflow.core.protobuf import saved_model_pb2

from deploy import saved_model_ops
from models.layout import latest_version
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def pushed_dir(pipeline_run) -> Path:
    base = pipeline_run["config"].serving.model_base_path
    return base / str(latest_version(base))


def check(model_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploy.saved_model_ops", str(model_dir)], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)


def test_the_pushed_model_uses_only_core_tensorflow_ops(pushed_dir):
    result = check(pushed_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("all core TensorFlow ops")


def test_the_ops_are_read_from_the_functions_too(pushed_dir):
    """The text pipeline lives in the signatures' functions, not the top-level graph: the walk must reach them."""
    ops = saved_model_ops.ops_used(pushed_dir)
    assert {"StringSplitV2", "StaticRegexReplace", "LookupTableImportV2", "LookupTableFindV2"} <= ops
    assert "StatefulPartitionedCall" in ops


def test_an_op_outside_the_core_is_named(pushed_dir, tmp_path):
    saved_model = saved_model_pb2.SavedModel.FromString((pushed_dir / "saved_model.pb").read_bytes())
    node = next(node for f in saved_model.meta_graphs[0].graph_def.library.function for node in f.node_def
                if node.op == "StaticRegexReplace")
    node.op = "FastWordpieceTokenizeWithOffsets"  # tensorflow-text's, which stock TensorFlow Serving lacks
    (tmp_path / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    result = check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path} uses ops outside TensorFlow's core ops: FastWordpieceTokenizeWithOffsets")


def test_a_folder_without_a_saved_model_is_a_one_line_error(tmp_path):
    with pytest.raises(saved_model_ops.SavedModelOpsError, match="no saved_model.pb in"):
        saved_model_ops.non_core_ops(tmp_path)
