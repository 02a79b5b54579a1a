"""Whether a SavedModel uses only TensorFlow's core ops, so that the stock tensorflow/serving image can load it.

The official TensorFlow Serving image links TensorFlow's core ops and nothing else: a model that needs a
custom op (tensorflow-text's tokenizers, for example) fails to load there with "Op type not registered".
This reads every op of every graph in ``saved_model.pb`` (the main graph and its function library) and
compares them with the ops registered in this process, which must import nothing but TensorFlow itself:
run it as its own process.

Run: python -m deploy.saved_model_ops outputs/serving/prepost/<version>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry


class SavedModelOpsError(ValueError):
    """The folder holds no readable SavedModel."""


def ops_used(model_dir: Path) -> set[str]:
    """Every op type named by the SavedModel's graphs and the functions they call."""
    path = model_dir / "saved_model.pb"
    if not path.is_file():
        raise SavedModelOpsError(f"no saved_model.pb in {model_dir}")
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    ops: set[str] = set()
    function_names: set[str] = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
            function_names.add(function.signature.name)
    # A node may call a function of the library by name; those are not ops.
    return ops - function_names


def non_core_ops(model_dir: Path) -> list[str]:
    """The ops of the SavedModel that core TensorFlow does not register, sorted (empty: stock serving loads it)."""
    return sorted(op for op in ops_used(model_dir) if op_def_registry.get(op) is None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    args = parser.parse_args()
    try:
        unknown = non_core_ops(args.model_dir)
    except SavedModelOpsError as error:
        sys.exit(f"error: {error}")
    if unknown:
        sys.exit(f"error: {args.model_dir} uses ops outside TensorFlow's core ops: {', '.join(unknown)}")
    print(f"{args.model_dir}: {len(ops_used(args.model_dir))} op types, all core TensorFlow ops")


if __name__ == "__main__":
    main()
