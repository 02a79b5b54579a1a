"""Read a compiled pipeline package with the KFP SDK's own code and print what it found, as JSON.

Runs in the KFP SDK's environment (.venv/kfp, see requirements-kfp.in), not the project's:
``<venv>/kfp/bin/python tests/kfp_reader.py PACKAGE [REFUSED_FILE]``. The reader is the one
``kfp.Client().create_run_from_pipeline_package`` uses; the component loader is
``kfp.components.load_component_from_file``. REFUSED_FILE is read too, and the reader's error recorded.
"""

import json
import sys

import kfp
from google.protobuf import json_format
from kfp import components
from kfp.client import client


def describe(package: str) -> dict:
    spec = client._extract_pipeline_yaml(package).pipeline_spec  # what create_run_from_pipeline_package reads
    deployment = json_format.MessageToDict(spec.deployment_spec)
    loaded = components.load_component_from_file(package)
    return {
        "kfp_version": kfp.__version__,
        "pipeline_name": spec.pipeline_info.name,
        "tasks": {name: {"component": task.component_ref.name, "dependencies": list(task.dependent_tasks),
                         "parameters": {key: json_format.MessageToDict(value.runtime_value)
                                        for key, value in task.inputs.parameters.items()}}
                  for name, task in spec.root.dag.tasks.items()},
        "executors": {name: executor.get("container") for name, executor in deployment["executors"].items()},
        "loaded_component": {"name": loaded.name,
                             "tasks": sorted(loaded.pipeline_spec.root.dag.tasks)},
    }


def refusal(path: str) -> str | None:
    try:
        client._extract_pipeline_yaml(path)
    except ValueError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    result = describe(sys.argv[1])
    if len(sys.argv) > 2:
        result["refused"] = refusal(sys.argv[2])
    print(json.dumps(result))
