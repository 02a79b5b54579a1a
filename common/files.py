"""General file helpers: atomic writes, and telling a URL from a local path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_url(source: str) -> bool:
    """An http(s) URL or a Cloud Storage object (gs://, read through TensorFlow), as opposed to a local path."""
    return source.startswith(("https://", "http://", "gs://"))


def is_http_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))
