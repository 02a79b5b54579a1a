"""Beam arguments for local runs, so that TFX does not re-package itself in every Beam step.

When ``beam_args`` is non-empty and names no package to stage, every Beam-based TFX executor
(CsvExampleGen, StatisticsGen, Transform, Evaluator, batch scoring) runs ``setup.py sdist`` over the
installed TFX, so that remote workers could install it: about 7 s each on a busy 2-core machine, five
times a run. Building that source package once per TFX version into a cache and naming it with
``--extra_package`` makes TFX skip the build; remote runners still receive TFX, and the DirectRunner,
whose workers run in this environment, ignores it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_DEPENDENCY_FLAGS = ("--extra_package", "--extra_packages", "--setup_file", "--requirements_file",
                     "--sdk_container_image", "--worker_harness_container_image")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prepost-questions"


def tfx_package(cache: Path) -> Path:
    """The source package TFX would build of itself, built once per TFX version and kept in ``cache``."""
    import tfx
    from tfx.utils import dependency_utils
    target = cache / f"tfx_ephemeral-{tfx.__version__}.tar.gz"
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        built = Path(dependency_utils.build_ephemeral_package())
        with tempfile.NamedTemporaryFile(dir=cache, suffix=".partial", delete=False) as partial:
            shutil.copyfile(built, partial.name)
        os.replace(partial.name, target)  # atomic: a concurrent run sees the whole file or none
    return target


def with_cached_tfx_package(beam_args: list[str], cache: Path | None = None) -> list[str]:
    """``beam_args`` plus the cached TFX package, unless they are empty or already name a dependency."""
    if not beam_args or any(arg.split("=", 1)[0] in _DEPENDENCY_FLAGS for arg in beam_args):
        return list(beam_args)
    return [*beam_args, f"--extra_package={tfx_package(cache or cache_dir())}"]
