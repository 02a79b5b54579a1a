"""Rollout by version label: what a push, ``promote`` and ``rollback`` write into the model config file.

The model config file (serving.model_config) is the one place that says which versions are served
and which version each label names; the model server (local or TensorFlow Serving) polls it. Each
operation here reads it, computes the next one and replaces it atomically, so a server never reads
half a file and a request never finds a label missing:

- after a push, ``direct``: the new version becomes stable, the old stable stays loaded as ``previous``;
  ``canary``: the new version is loaded beside stable as ``canary`` (the first version becomes stable);
- ``promote``: canary becomes stable, the old stable becomes previous;
- ``rollback``: previous becomes stable again; the version rolled back from is no longer served.

``promote`` and ``rollback`` refuse a label that would name a version the server has not loaded,
leaving the file as it was.
"""

from __future__ import annotations

from common.config import ServingConfig
from common.files import write_atomically
from models.layout import list_versions
from serving import model_config


class RolloutError(RuntimeError):
    """The operation cannot be done; the model config file is unchanged and the message says why."""


def current_labels(serving: ServingConfig) -> dict[str, int]:
    """The labels the model config file gives now ({} without a file)."""
    path = serving.model_config_path
    return model_config.read(path, serving.model_name).labels if path.is_file() else {}


def _versions(serving: ServingConfig, labels: dict[str, int]) -> list[int]:
    """The labelled versions, then the newest others older than stable, up to versions.keep in all."""
    chosen = set(labels.values())
    stable = labels.get(serving.versions.stable_label, 0)
    for version in reversed(list_versions(serving.model_base_path)):
        if len(chosen) >= serving.versions.keep:
            break
        if version < stable:
            chosen.add(version)
    return sorted(chosen)


def _write(serving: ServingConfig, labels: dict[str, int]) -> str:
    text = model_config.render(serving.model_name, str(serving.model_base_path), _versions(serving, labels), labels)
    model_config.parse(text, serving.model_name, serving.model_config_path.parent)  # never write a file TF Serving refuses
    write_atomically(serving.model_config_path, text)
    return text


def after_push(serving: ServingConfig, pushed_version: int) -> dict[str, int]:
    """Label the version the pipeline just pushed, by serving.versions.rollout; the new labels."""
    names, labels = serving.versions, current_labels(serving)
    stable = labels.get(names.stable_label)
    if stable is None or names.rollout == "direct":
        labels.pop(names.canary_label, None)
        if stable is not None and stable != pushed_version:
            labels[names.previous_label] = stable
        labels[names.stable_label] = pushed_version
    else:
        labels[names.canary_label] = pushed_version
    _write(serving, labels)
    return labels


def loaded_versions(statuses: list[dict]) -> set[int]:
    """The AVAILABLE versions in a model status answer (ModelClient.status())."""
    return {int(status["version"]) for status in statuses if status["state"] == "AVAILABLE"}


def _require_loaded(labels: dict[str, int], loaded: set[int]) -> None:
    for label, version in sorted(labels.items()):
        if version not in loaded:
            raise RolloutError(f"label {label!r} would name version {version}, which the model server has not loaded "
                               f"(loaded: {sorted(loaded)}); the model config file is unchanged")


def promote(serving: ServingConfig, loaded: set[int]) -> dict[str, int]:
    """Canary becomes stable, stable becomes previous; refused unless the server has the canary loaded."""
    names, labels = serving.versions, current_labels(serving)
    if names.canary_label not in labels:
        raise RolloutError(f"no {names.canary_label!r} label in {serving.model_config_path}: nothing to promote")
    canary = labels.pop(names.canary_label)
    if names.stable_label in labels:
        labels[names.previous_label] = labels[names.stable_label]
    labels[names.stable_label] = canary
    _require_loaded(labels, loaded)
    _write(serving, labels)
    return labels


def rollback(serving: ServingConfig, loaded: set[int]) -> dict[str, int]:
    """Previous becomes stable again (and the canary, if any, is dropped); refused unless previous is loaded."""
    names, labels = serving.versions, current_labels(serving)
    if names.previous_label not in labels:
        raise RolloutError(f"no {names.previous_label!r} label in {serving.model_config_path}: nothing to roll back to")
    labels = {names.stable_label: labels[names.previous_label]}
    _require_loaded(labels, loaded)
    _write(serving, labels)
    return labels

