"""Property-based tests: random and malformed CSVs into data preparation.

Whatever the file holds, preparation either stops with a DataError that names
the problem, or succeeds with every raw row accounted for (kept or dropped and
counted) and clean, disjoint, label-stratified splits. Never another exception.
"""

import csv
import gzip
import io
import json
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common import config as configs
from dataprep import preparation as dp
from dataprep import splits
from tests.data_oracle import assert_accounted_disjoint_stratified, independent_expectation
from tests.helpers import ROOT

RAW_CONFIG = json.loads((ROOT / "config.json").read_text())

questions = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=80),
    st.sampled_from(["", "   ", "\n", "NaN", "nan", "None", "NULL", "did it\ncome with\r\na cable?", "a,b,\"c\"",
                     "😀 日本語 é", "x" * 2500]),
)
labels = st.sampled_from(["Pre", "Post", " Post ", "Pre "])
rows = st.lists(st.tuples(questions, labels), min_size=0, max_size=40)


BAD_BYTES = {"non_utf8": b"caf\xe9 \xff question", "nul_byte": b"bad\x00byte"}


def render(data: list[tuple[str, str]], columns: list[str], extra: bool, duplicate: bool, bad_label: bool,
           how: str) -> bytes:
    """A CSV of ``data`` repeated to at least 60 rows (distinct asins), with the chosen defects."""
    repeated = data * (60 // len(data) + 1 if data else 0)
    # Distinct texts (numbered), except empty ones, so that repeating does not only make duplicates.
    body = [(f"B{i}", f"{q} {i}" if q.strip() else q, lab) for i, (q, lab) in enumerate(repeated)]
    body += body[:3] if duplicate else []
    body += [("BX", "is it red?", "Maybe")] if bad_label else []
    body += [("BY", "@BAD@", "Post")] if how in BAD_BYTES else []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns + (["extra"] if extra else []))
    for asin, question, label in body:
        values = {"question": question, "label": label, "asin": asin}
        writer.writerow([values[c] for c in columns] + (["x"] if extra else []))
    payload = out.getvalue().encode("utf-8").replace(b"@BAD@", BAD_BYTES.get(how, b"@BAD@"))
    if how == "truncated_gzip":
        packed = gzip.compress(payload)
        return packed[: max(10, len(packed) // 2)]
    return payload


COLUMN_SETS = [["asin", "question", "label"], ["question", "label", "asin"], ["label", "question", "asin"],
               ["asin", "label"], ["asin", "question"]]
DEFECTS = ["none", "none", "none", "non_utf8", "nul_byte", "truncated_gzip"]


def expected_refusal(payload: bytes, columns: list[str], how: str, sample: int) -> str | None:
    """What the documented rules say of this file, worked out apart from the preparation code: a fragment of
    the refusal's message, "" when the file must be prepared, or None when both are right (a split may or may
    not get a row of each label, depending on the draw)."""
    if how == "truncated_gzip":
        return "truncated or corrupt"
    if not {"question", "label"} <= set(columns):
        return "missing required column"
    records = list(csv.DictReader(io.StringIO(payload.decode("utf-8", "replace").replace("\x00", ""), newline="")))
    if not records:
        return "no rows"
    if any(record["label"].split("\x00")[0].strip() not in ("Pre", "Post") for record in records):
        return "other than Pre/Post"
    kept = independent_expectation(payload)["kept"]
    usable = Counter(label for _, label in kept)
    if min(usable["Pre"], usable["Post"]) == 0:
        return "would have no"
    drawn = min(sample, len(kept))
    smallest_split = min(RAW_CONFIG["data"]["split_fractions"].values())
    # Each label's sampled rows are its share of the draw, to one row; with 1 / smallest fraction of them,
    # every split gets at least one.
    if all(drawn * usable[label] / len(kept) - 1 >= 1 / smallest_split for label in ("Pre", "Post")):
        return ""
    return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, columns=st.sampled_from(COLUMN_SETS), extra=st.booleans(), duplicate=st.booleans(),
       bad_label=st.sampled_from([False, False, False, True]), how=st.sampled_from(DEFECTS),
       sample=st.integers(min_value=30, max_value=80))
# Both outcomes, whatever the draw: a valid file that must be prepared, and one that must be refused.
@example(data=[(f"is item {i} red?", "Pre" if i % 2 else "Post") for i in range(30)], columns=COLUMN_SETS[0],
         extra=False, duplicate=False, bad_label=False, how="none", sample=60)
@example(data=[("is it red?", "Pre")], columns=COLUMN_SETS[0], extra=True, duplicate=False, bad_label=True,
         how="none", sample=30)
def test_any_csv_gives_a_named_error_or_clean_accounted_splits(tmp_path_factory, data, columns, extra, duplicate,
                                                                bad_label, how, sample):
    tmp = tmp_path_factory.mktemp("prop")
    source = tmp / ("raw.csv.gz" if how == "truncated_gzip" else "raw.csv")
    payload = render(data, columns, extra, duplicate, bad_label, how)
    source.write_bytes(payload)
    raw = json.loads(json.dumps(RAW_CONFIG))
    raw["data"].update(source=str(source), prepared_dir=str(tmp / "prepared"), total_sample_size=sample)
    config = configs.from_dict(raw, environ={}).data
    expected = expected_refusal(payload, columns, how, sample)
    try:
        manifest = dp.prepare(config)
    except dp.DataError as error:
        message = str(error)
        assert expected != "", f"a valid file was refused: {message}"
        assert (expected or "would have no") in message and "Traceback" not in message, (expected, message)
        assert not config.prepared_dir.exists(), "a failed run must not leave a split behind"
        return
    assert not expected, f"a file that must be refused ({expected}) was prepared"
    assert_accounted_disjoint_stratified(config, manifest, independent_expectation(source.read_bytes()))
    frames = {s: splits.read_split(config.prepared_dir, s) for s in splits.SPLITS}
    assert sum(len(f) for f in frames.values()) == manifest["rows_sampled"]
    for split, frame in frames.items():
        assert set(frame["label"]) <= {"Pre", "Post"} and len(frame) == manifest["splits"][split]["rows"]
        assert frame["question"].str.strip().str.len().between(1, 2000).all()
        assert not frame["question"].str.contains("[\n\r\ufffd]").any()
