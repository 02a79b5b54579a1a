"""Raw CSV -> cleaned, stratified, downsampled train/eval/test splits (layout: dataprep.splits).

The step is idempotent (same source bytes and settings -> nothing to
do) and atomic (the splits are built in a temporary folder and swapped in
whole), so a failed download or a bad file never leaves a half-written split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.client
import re
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

import features
from common.config import DataConfig, is_http_url, is_url
from dataprep.splits import SPLITS, read_csv_as_text, read_manifest, split_path, write_splits

_WHITESPACE = re.compile(r"\s+")


class DataError(ValueError):
    """The raw data cannot be prepared; the message says what is wrong and where."""


@dataclasses.dataclass
class CleanData:
    frame: pd.DataFrame
    rows_read: int
    dropped: dict[str, int]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def local_copy(source: str, timeout: float) -> Iterator[Path]:
    """Yield a local path for ``source``; a URL is downloaded (with progress) to a temp file."""
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"data source not found: {path}")
        yield path
        return
    suffix = ".csv.gz" if source.split("?")[0].endswith(".gz") else ".csv"
    with tempfile.TemporaryDirectory(prefix="ppq-download-") as tmp:
        target = Path(tmp) / f"source{suffix}"
        if not is_http_url(source):
            _copy_with_tensorflow(source, target)
            yield target
            return
        try:
            with urllib.request.urlopen(source, timeout=timeout) as response, open(target, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                received = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc="download") as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
            if total is not None and received != total:
                raise DataError(f"could not download data source {source}: got {received} of {total} bytes "
                                "(connection cut short)")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, DataError):
                raise
            reason = getattr(exc, "reason", exc)
            raise DataError(f"could not download data source {source}: {reason}") from exc
        yield target


def _copy_with_tensorflow(source: str, target: Path) -> None:
    """gs:// and the other file systems TensorFlow reads (on Kubeflow the raw CSV lives in a bucket)."""
    import tensorflow as tf  # only remote sources need it; ``./run.sh prepare`` on a local file stays light

    try:
        tf.io.gfile.copy(source, str(target), overwrite=True)
    except (tf.errors.OpError, OSError) as exc:
        message = getattr(exc, "message", str(exc))
        raise DataError(f"could not read data source {source}: {message}") from exc


def source_version(source: str) -> str:
    """Size and modification time of a local source (the pipeline step's cache key); '' for a URL."""
    if is_url(source) or not Path(source).is_file():
        return ""  # a missing file fails in the step itself, with the data error
    stat = Path(source).stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _read_chunks(path: Path, config: DataConfig) -> Iterator[pd.DataFrame]:
    """Read the CSV in chunks as strings; decode errors become U+FFFD and are dropped later."""
    reader = pd.read_csv(path, chunksize=config.chunk_rows, dtype=str, keep_default_na=False,
                         compression="infer", encoding="utf-8", encoding_errors="replace")
    with reader:
        yield from reader


def read_clean(path: Path, config: DataConfig) -> CleanData:
    """Read the raw CSV, check columns and labels, drop unusable rows and count them."""
    wanted = [config.text_column, config.label_column]
    parts, rows_read = [], 0
    try:
        with tqdm(desc="read rows", unit="row") as bar:
            for chunk in _read_chunks(path, config):
                missing = [c for c in wanted if c not in chunk.columns]
                if missing:
                    raise DataError(f"{path.name}: missing required column(s) {missing}; "
                                    f"found {list(chunk.columns)} (set data.text_column / data.label_column)")
                rows_read += len(chunk)
                parts.append(chunk)
                bar.update(len(chunk))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path.name}: the gzip file is truncated or corrupt ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name}: the file is empty (no header row)") from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path.name}: not a readable CSV file: {exc}") from exc
    if rows_read == 0:  # pandas yields one empty chunk for a header-only file
        raise DataError(f"{path.name}: the file has a header but no rows")
    raw = pd.concat(parts, ignore_index=True)
    return _clean(raw, config, rows_read)


def _clean(raw: pd.DataFrame, config: DataConfig, rows_read: int) -> CleanData:
    labels = raw[config.label_column].str.strip()
    bad = labels[~labels.isin(features.LABEL_VALUES)]
    if len(bad):
        counts = bad.replace("", "<empty>").value_counts().head(10).to_dict()
        raise DataError(f"column {config.label_column!r} has {len(bad)} value(s) other than "
                        f"{'/'.join(features.LABEL_VALUES)}: {counts}")
    # Newlines inside quoted fields are folded to spaces: CsvExampleGen reads one record per line.
    questions = raw[config.text_column].map(lambda q: _WHITESPACE.sub(" ", q).strip())
    frame = pd.DataFrame({features.QUESTION: questions, features.LABEL: labels})
    dropped = {}
    rules = {
        # The same question with the same label once more (e.g. asked about another product): kept once, so
        # no test question is also a training question. The same text with both labels stays (it is ambiguous).
        "duplicate_question": frame.duplicated([features.QUESTION, features.LABEL]),
        "empty_question": frame[features.QUESTION] == "",
        "invalid_utf8": frame[features.QUESTION].str.contains("\ufffd", regex=False),
        "too_long_question": frame[features.QUESTION].str.len() > features.MAX_QUESTION_CHARS,
    }
    keep = pd.Series(True, index=frame.index)
    for name, mask in rules.items():
        dropped[name] = int((mask & keep).sum())
        keep &= ~mask
    return CleanData(frame=frame[keep].reset_index(drop=True), rows_read=rows_read, dropped=dropped)


def _allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split an integer total by weights with the largest-remainder method (exact sum)."""
    raw = {k: total * w for k, w in weights.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    for key in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def stratified_splits(frame: pd.DataFrame, config: DataConfig) -> dict[str, pd.DataFrame]:
    """Downsample to total_sample_size and split, keeping the label mix in every split."""
    rng = np.random.default_rng(config.random_seed)
    class_sizes = frame[features.LABEL].value_counts().to_dict()
    sample_size = min(config.total_sample_size, len(frame))
    per_class = _allocate(sample_size, {k: v / len(frame) for k, v in class_sizes.items()})
    pieces: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for label in features.LABEL_VALUES:
        rows = frame[frame[features.LABEL] == label]
        chosen = rows.iloc[rng.permutation(len(rows))[: per_class.get(label, 0)]]
        counts = _allocate(len(chosen), config.split_fractions)
        start = 0
        for split in SPLITS:
            pieces[split].append(chosen.iloc[start:start + counts[split]])
            start += counts[split]
    splits = {}
    for split in SPLITS:
        part = pd.concat(pieces[split])
        missing = [lab for lab in features.LABEL_VALUES if not (part[features.LABEL] == lab).any()]
        if missing:
            raise DataError(f"split {split!r} would have no {missing} rows: the data has too few usable rows "
                            f"({len(frame)} after cleaning) for data.total_sample_size / data.split_fractions")
        splits[split] = part.iloc[rng.permutation(len(part))].reset_index(drop=True)
    return splits


def _settings(config: DataConfig) -> dict[str, object]:
    return {"text_column": config.text_column, "label_column": config.label_column,
            "total_sample_size": config.total_sample_size, "split_fractions": config.split_fractions,
            "random_seed": config.random_seed}


def add_feedback(splits: dict[str, pd.DataFrame], feedback: pd.DataFrame) -> dict[str, int]:
    """Append people's corrections to the train split only, in place; count what was added and what was not.

    Never eval or test: the Evaluator compares the new model with the previous one on the same eval split. A
    correction whose question is already in eval or test is left out (it would put an eval question into
    training); one already in train with the same label adds nothing; one with the other label is added.
    """
    rows = feedback[[features.QUESTION, features.LABEL]].copy()
    valid = (rows[features.LABEL].isin(features.LABEL_VALUES) & (rows[features.QUESTION].str.len() > 0)
             & (rows[features.QUESTION].str.len() <= features.MAX_QUESTION_CHARS))
    held_out = pd.concat([splits[s][features.QUESTION] for s in SPLITS if s != "train"])
    in_held_out = rows[features.QUESTION].isin(held_out)
    train = splits["train"]
    known = rows.merge(train.drop_duplicates(), how="left", indicator=True)["_merge"].eq("both").to_numpy()
    added = rows[valid & ~in_held_out & ~known]
    splits["train"] = pd.concat([train, added], ignore_index=True)
    return {"rows_read": len(rows), "rows_added": len(added), "invalid": int((~valid).sum()),
            "in_eval_or_test": int((valid & in_held_out).sum()), "already_in_train": int((valid & ~in_held_out & known).sum())}


def _feedback_rows(feedback_file: Path | None) -> tuple[pd.DataFrame | None, str | None]:
    if feedback_file is None or not Path(feedback_file).is_file():
        return None, None
    return read_csv_as_text(feedback_file), _sha256(Path(feedback_file))


def prepare(config: DataConfig, force: bool = False, feedback_file: Path | None = None) -> dict[str, object]:
    """Prepare the splits unless an identical run already did; return the manifest.

    ``feedback_file`` (monitoring.feedback's CSV) adds people's corrections to the train split.
    """
    started = time.monotonic()
    feedback, feedback_sha256 = _feedback_rows(feedback_file)
    with local_copy(config.source, config.download_timeout_seconds) as path:
        checksum = _sha256(path)
        previous = read_manifest(config.prepared_dir)
        if (not force and previous and previous.get("source_sha256") == checksum
                and previous.get("settings") == _settings(config)
                and previous.get("feedback", {}).get("sha256") == feedback_sha256):
            print(f"data: {config.prepared_dir} is up to date (same source and settings)")
            return previous
        clean = read_clean(path, config)
    splits = stratified_splits(clean.frame, config)
    sampled = sum(len(f) for f in splits.values())
    added = add_feedback(splits, feedback) if feedback is not None else {"rows_read": 0, "rows_added": 0}
    manifest = {
        "source": config.source,
        "source_sha256": checksum,
        "settings": _settings(config),
        "rows_read": clean.rows_read,
        "rows_dropped": clean.dropped,
        "rows_usable": len(clean.frame),
        "label_counts_usable": clean.frame[features.LABEL].value_counts().to_dict(),
        "rows_sampled": sampled,  # from the source; the train split's rows include the corrections added
        "splits": {s: {"rows": len(f), "labels": f[features.LABEL].value_counts().to_dict(),
                       "path": str(split_path(Path(), s))} for s, f in splits.items()},
        "feedback": {"source": str(feedback_file) if feedback is not None else None, "sha256": feedback_sha256,
                     **added},
        "seconds": round(time.monotonic() - started, 2),
    }
    write_splits(config.prepared_dir, splits, manifest)
    corrections = f"; corrections added to train: {added['rows_added']}" if feedback is not None else ""
    print(f"data: {sum(len(f) for f in splits.values())} rows in {config.prepared_dir} "
          f"({', '.join(f'{s}={len(f)}' for s, f in splits.items())}); dropped {clean.dropped}{corrections}")
    return manifest
