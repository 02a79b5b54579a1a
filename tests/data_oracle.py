"""An oracle for data preparation written apart from it: Python's csv module and the documented cleaning rules
say which raw rows must be kept or dropped, and the split checks say what disjoint, stratified splits are."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

from common import config as configs
from dataprep import splits

NUL_MARK = "\x01NUL"


def independent_expectation(payload: bytes, text_column: str = "question", label_column: str = "label") -> dict:
    """Rows read, rows kept (question, label) in order, and drops by rule, for a raw CSV's bytes.

    Undecodable bytes become U+FFFD; a NUL ends its field (as pandas' C parser reads it).
    """
    text = payload.decode("utf-8", "replace").replace("\x00", NUL_MARK)
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    kept, seen, dropped = [], set(), Counter()
    for record in records:
        raw_question, raw_label = (record[c].split(NUL_MARK)[0] for c in (text_column, label_column))
        question, label = re.sub(r"\s+", " ", raw_question).strip(), raw_label.strip()
        if (question, label) in seen:
            dropped["duplicate_question"] += 1
        elif not question:
            dropped["empty_question"] += 1
        elif "\ufffd" in question:
            dropped["invalid_utf8"] += 1
        elif len(question) > 2000:
            dropped["too_long_question"] += 1
        else:
            kept.append((question, label))
        seen.add((question, label))
    return {"rows": len(records), "kept": kept, "dropped": dropped}


def assert_accounted_disjoint_stratified(config: configs.DataConfig, manifest: dict, expected: dict) -> None:
    """The manifest's counts equal the oracle's; the splits are disjoint, drawn from the kept rows, stratified."""
    assert manifest["rows_read"] == expected["rows"]
    assert {k: v for k, v in manifest["rows_dropped"].items() if v} == dict(expected["dropped"])
    assert manifest["rows_usable"] == len(expected["kept"])
    frames = {s: splits.read_split(config.prepared_dir, s) for s in splits.SPLITS}
    rows = {s: list(zip(f["question"], f["label"], strict=True)) for s, f in frames.items()}
    every = [r for s in splits.SPLITS for r in rows[s]]
    assert len(every) == len(set(every)), "a row appears twice (within or across splits)"
    assert set(every) <= set(expected["kept"]), "a split row is not one of the usable raw rows"
    assert len(every) == min(config.total_sample_size, len(expected["kept"]))
    usable = Counter(label for _, label in expected["kept"])
    sampled = Counter(label for _, label in every)
    for label, count in sampled.items():  # the sample keeps the usable label mix (to one row)
        assert abs(count - len(every) * usable[label] / len(expected["kept"])) <= 1, (sampled, usable)
    for split, fraction in config.split_fractions.items():  # each label is split by the fractions (to one row)
        split_labels = Counter(label for _, label in rows[split])
        for label, count in sampled.items():
            assert abs(split_labels[label] - count * fraction) <= 1, (split, label, split_labels, sampled)
