"""TensorFlow Serving's model config file (``--model_config_file``): which versions are served, and their labels.

A text-format ``ModelServerConfig`` (tensorflow_serving.config.model_server_config_pb2) with one
``model_config_list`` entry for this project's model::

    model_config_list {
      config {
        name: "prepost"
        base_path: "/app/outputs/serving/prepost"
        model_platform: "tensorflow"
        model_version_policy { specific { versions: 3 versions: 4 } }
        version_labels { key: "stable" value: 3 }
        version_labels { key: "canary" value: 4 }
      }
    }

The project's server polls it and applies a new one atomically; the real TensorFlow Serving container reads
the same file (docker-compose.yml, deploy/manifests.py). deploy.rollout writes it (push, promote, rollback).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from common.config import MODEL_CONFIG_FILE as FILE_NAME  # noqa: F401 - <model_dir>/models.config


class ModelConfigError(ValueError):
    """The model config file cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    """TensorFlow Serving's ServableVersionPolicy: the newest ``latest`` versions, ``all``, or ``specific`` ones."""
    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def choose(self, on_disk: list[int]) -> set[int]:
        """The versions to serve, of those on disk (ascending)."""
        if self.kind == "all":
            return set(on_disk)
        if self.kind == "specific":
            return set(self.versions) & set(on_disk)
        return set(on_disk[-self.num_versions:]) if self.num_versions > 0 else set()


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """This model's entry of the file: where its versions are, which to serve, and the labels."""
    base_path: Path
    policy: VersionPolicy
    labels: dict[str, int]


def parse(text: str, model_name: str, relative_to: Path) -> ModelEntry:
    """The entry named ``model_name``; ModelConfigError naming the problem otherwise."""
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ModelConfigError(f"not a ModelServerConfig text proto: {exc}") from exc
    entries = [c for c in config.model_config_list.config if c.name == model_name]
    if len(entries) != 1:
        names = [c.name for c in config.model_config_list.config]
        raise ModelConfigError(f"needs exactly one model_config_list entry named {model_name!r}, found {names}")
    entry = entries[0]
    if entry.model_platform not in ("", "tensorflow"):
        raise ModelConfigError(f"model_platform must be 'tensorflow', got {entry.model_platform!r}")
    if not entry.base_path:
        raise ModelConfigError(f"the entry for {model_name!r} has no base_path")
    which = entry.model_version_policy.WhichOneof("policy_choice") or "latest"
    if which == "specific":
        if not entry.model_version_policy.specific.versions:
            raise ModelConfigError("model_version_policy.specific lists no versions")
        policy = VersionPolicy("specific", versions=tuple(sorted(entry.model_version_policy.specific.versions)))
    elif which == "all":
        policy = VersionPolicy("all")
    else:
        policy = VersionPolicy("latest", num_versions=entry.model_version_policy.latest.num_versions or 1)
    labels = dict(entry.version_labels)
    if policy.kind == "specific" and set(labels.values()) - set(policy.versions):
        stray = sorted(set(labels.values()) - set(policy.versions))
        raise ModelConfigError(f"version_labels name versions {stray} that model_version_policy does not serve")
    return ModelEntry((relative_to / entry.base_path).resolve(), policy, labels)


def read(path: Path, model_name: str) -> ModelEntry:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelConfigError(f"cannot read {path}: {exc}") from exc
    return parse(text, model_name, path.parent)


def render(model_name: str, base_path: str, versions: list[int] | None = None, labels: dict[str, int] | None = None,
           latest: int = 1) -> str:
    """The text-format file: ``specific`` versions when given, else the newest ``latest`` ones."""
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add(name=model_name, base_path=base_path, model_platform="tensorflow")
    if versions:
        entry.model_version_policy.specific.versions.extend(sorted(versions))
    else:
        entry.model_version_policy.latest.num_versions = latest
    for label, version in sorted((labels or {}).items()):
        entry.version_labels[label] = version
    return text_format.MessageToString(config)
