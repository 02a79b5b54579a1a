"""The pipeline definition without a run: what the Transform and Trainer are given, and what keys their cache."""

from __future__ import annotations

import ast
import json
import shutil

import local_runner
from common import config as configs
from pipeline import pipeline
from tests.helpers import ROOT, SMALL_OVERRIDES, write_config


def _user_configs(tmp_path) -> dict[str, dict]:
    """The custom_config the locally built pipeline gives its Transform and its Trainer."""
    config = configs.load(write_config(tmp_path, SMALL_OVERRIDES), environ={})
    built = local_runner.build(config)
    return {node.id: json.loads(node.exec_properties["custom_config"]) for node in built.components
            if node.id in ("Transform", "Trainer")}


def top_level_modules_imported_by(*names: str) -> set[str]:
    """The project's top-level modules (files beside config.json) that these import, themselves included,
    found from their source: the list the pipeline's cache key must cover, worked out independently."""
    found, frontier = set(), list(names)
    while frontier:
        name = frontier.pop()
        if name in found or not (ROOT / f"{name}.py").is_file():
            continue
        found.add(name)
        for node in ast.walk(ast.parse((ROOT / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                frontier += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                frontier.append(node.module.split(".")[0])
    return found


def test_transform_and_trainer_run_imported_code_keyed_by_its_source(tmp_path, monkeypatch):
    """Import paths, not packaged module files; editing any module they import changes their cache key."""
    entry_points = {arg.split(".")[0] for arg in (pipeline.arguments_from_config(
        configs.load(ROOT / "config.json", environ={}))[key] for key in ("preprocessing_fn", "run_fn"))}
    user_code = sorted(top_level_modules_imported_by(*entry_points))
    assert {"preprocessing", "trainer", "features"} <= set(user_code)
    code = tmp_path / "code"
    code.mkdir()
    for name in user_code:
        shutil.copy2(ROOT / f"{name}.py", code / f"{name}.py")
    monkeypatch.setattr(pipeline, "PROJECT_ROOT", code)
    before = _user_configs(tmp_path)
    assert before["Transform"] == before["Trainer"]

    changed = {}
    for name in user_code:
        original = (code / f"{name}.py").read_text()
        (code / f"{name}.py").write_text(original + "\n# an edit\n")
        changed[name] = _user_configs(tmp_path)["Trainer"]
        (code / f"{name}.py").write_text(original)
    versions = {name: c.pop("code_version") for name, c in changed.items()}
    unchanged = before["Trainer"].pop("code_version")
    assert len(set(versions.values()) | {unchanged}) == len(user_code) + 1, versions
    assert all(c == before["Trainer"] for c in changed.values())  # only the code version moved
    assert _user_configs(tmp_path)["Trainer"]["code_version"] == unchanged  # and it is stable


def test_no_component_is_given_a_module_file():
    """TFX packages a module file into a wheel and pip-installs it in each executor; import paths need neither."""
    config = configs.load(ROOT / "config.json", environ={})
    arguments = pipeline.arguments_from_config(config)
    assert (arguments["preprocessing_fn"], arguments["run_fn"]) == ("preprocessing.preprocessing_fn", "trainer.run_fn")


def test_the_anomalies_gate_reads_example_validator_and_holds_back_transform(tmp_path):
    """The gate is wired into the pipeline the runners build: it reads ExampleValidator's anomalies, and
    Transform (and so everything after it) waits for it."""
    built = {node.id: node for node in local_runner.build(configs.load(write_config(tmp_path, SMALL_OVERRIDES),
                                                                       environ={})).components}
    gate = built["AnomaliesGate"]
    assert gate.inputs["anomalies"].producer_component_id == "ExampleValidator"
    assert gate.inputs["anomalies"].output_key == "anomalies"
    assert "AnomaliesGate" in {node.id for node in built["Transform"].upstream_nodes}
