"""A quiet pipeline run: one line per component on the terminal, everything else in a log file.

TFX, Beam, TensorFlow and Keras write thousands of lines (component protos, Beam
stages, training epochs) to stdout, stderr and Python logging. While a run is
quiet, file descriptors 1 and 2 point at the run's log file, so output from
every library and every Beam worker process lands there; the terminal gets a
line when a component finishes, read from TFX's own "Component ... is
finished." log records.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from common.config import VERBOSE_ENV
from common.outputs import LOGS_DIR

# TFX's LocalDagRunner and launcher log these format strings (tfx/orchestration/local, .../portable/launcher.py).
_RUNNING, _FINISHED, _CACHED = "Component %s is running.", "Component %s is finished.", "A cached execution"


class ComponentProgress(logging.Handler):
    """Prints ``name  ran|cached  seconds`` for each component as TFX's local runner finishes it."""

    def __init__(self, terminal: TextIO) -> None:
        super().__init__(level=logging.INFO)
        self.terminal = terminal
        self.current: str | None = None
        self.started = 0.0
        self.cached = False
        self.finished: list[tuple[str, bool, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _RUNNING and record.args:
            self.current, self.started, self.cached = str(record.args[0]), time.monotonic(), False
        elif isinstance(record.msg, str) and record.msg.startswith(_CACHED):
            self.cached = True
        elif record.msg == _FINISHED and record.args and self.current is not None:
            seconds = time.monotonic() - self.started
            self.finished.append((self.current, self.cached, seconds))
            print(f"  {self.current:<34} {'cached' if self.cached else 'ran':<6} {seconds:6.1f} s",
                  file=self.terminal, flush=True)


def is_verbose(flag: bool = False) -> bool:
    return flag or os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def log_path_for(output_dir: Path, command: str) -> Path:
    return output_dir / LOGS_DIR / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def tail(path: Path, lines: int = 25) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))


@contextlib.contextmanager
def quiet(log_path: Path) -> Iterator[TextIO]:
    """Send fds 1 and 2 to ``log_path`` for the duration; yield a stream that still reaches the terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    progress = ComponentProgress(terminal)
    absl_logger = logging.getLogger("absl")
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        absl_logger.addHandler(progress)
        try:
            yield terminal
        finally:
            absl_logger.removeHandler(progress)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()
