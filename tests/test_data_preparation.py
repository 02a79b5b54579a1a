import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from common import config as configs
from dataprep import preparation as dp
from dataprep import splits
from tests.helpers import ROOT


def data_config(tmp_path: Path, source: Path | str, **overrides) -> configs.DataConfig:
    raw = json.loads((ROOT / "config.json").read_text())
    raw["data"].update(source=str(source), prepared_dir=str(tmp_path / "prepared"), **overrides)
    return configs.from_dict(raw, environ={}).data


def write_csv(path: Path, rows: list[dict], compress: bool = False) -> Path:
    text = pd.DataFrame(rows).to_csv(index=False)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def balanced_rows(n_pre: int, n_post: int) -> list[dict]:
    return ([{"asin": f"A{i}", "question": f"does it fit model {i}?", "label": "Pre"} for i in range(n_pre)]
            + [{"asin": f"B{i}", "question": f"mine broke after {i} days", "label": "Post"} for i in range(n_post)])


def test_stratified_downsample_and_split_are_exact(tmp_path):
    source = write_csv(tmp_path / "raw.csv.gz", balanced_rows(600, 400), compress=True)
    config = data_config(tmp_path, source, total_sample_size=500)
    manifest = dp.prepare(config)
    expected = {"train": {"Pre": 210, "Post": 140}, "eval": {"Pre": 45, "Post": 30}, "test": {"Pre": 45, "Post": 30}}
    seen_questions = set()
    for split, counts in expected.items():
        frame = splits.read_split(config.prepared_dir, split)
        assert frame.columns.tolist() == ["question", "label"]
        assert frame["label"].value_counts().to_dict() == counts
        assert manifest["splits"][split]["labels"] == counts
        assert not seen_questions & set(frame["question"]), "a row landed in two splits"
        seen_questions |= set(frame["question"])
    assert manifest["rows_sampled"] == 500 and manifest["rows_read"] == 1000


def test_second_run_is_a_no_op_and_a_changed_setting_rebuilds(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(120, 80))
    config = data_config(tmp_path, source, total_sample_size=100)
    dp.prepare(config)
    split_file = splits.split_path(config.prepared_dir, "train")
    before = split_file.stat().st_mtime_ns
    dp.prepare(config)
    assert split_file.stat().st_mtime_ns == before
    rebuilt = dp.prepare(data_config(tmp_path, source, total_sample_size=150))
    assert rebuilt["rows_sampled"] == 150


def test_missing_columns_are_listed(tmp_path):
    source = write_csv(tmp_path / "raw.csv", [{"asin": "A", "text": "hi", "target": "Pre"}])
    with pytest.raises(dp.DataError, match=r"missing required column\(s\) \['question', 'label'\]"):
        dp.prepare(data_config(tmp_path, source))


def test_unknown_labels_are_rejected_with_counts(tmp_path):
    rows = balanced_rows(50, 50) + [{"asin": "X", "question": "q", "label": "Maybe"}] * 3
    source = write_csv(tmp_path / "raw.csv", rows)
    with pytest.raises(dp.DataError, match=r"3 value\(s\) other than Pre/Post: \{'Maybe': 3\}"):
        dp.prepare(data_config(tmp_path, source))


def test_unknown_labels_show_the_ten_most_frequent_with_empty_ones_named(tmp_path):
    rows = balanced_rows(50, 50) + [{"asin": "E", "question": "q", "label": ""}] * 20
    rows += [{"asin": "X", "question": "q", "label": f"x{i}"} for i in range(12) for _ in range(i + 1)]
    source = write_csv(tmp_path / "raw.csv", rows)
    shown = {"<empty>": 20, **{f"x{i}": i + 1 for i in range(11, 2, -1)}}  # x2, x1, x0 are left out
    with pytest.raises(dp.DataError) as info:
        dp.prepare(data_config(tmp_path, source))
    assert str(info.value) == f"column 'label' has {20 + 78} value(s) other than Pre/Post: {shown}"


@pytest.mark.parametrize(("total", "expected"), [(7, {"train": 4, "eval": 2, "test": 1}),
                                                 (8, {"train": 5, "eval": 2, "test": 1}),
                                                 (19, {"train": 11, "eval": 5, "test": 3})])
def test_split_sizes_use_the_largest_remainders(total, expected):
    """Floors first, then one more row to each split with the largest fractional part, until the sum is exact."""
    assert dp._allocate(total, {"train": 0.6, "eval": 0.25, "test": 0.15}) == expected


def test_unusable_rows_are_dropped_and_counted(tmp_path):
    rows = balanced_rows(60, 60)
    rows += [{"asin": "E1", "question": "", "label": "Pre"}, {"asin": "E2", "question": "   ", "label": "Post"},
             {"asin": "L", "question": "x" * 2001, "label": "Pre"}, rows[0], rows[1]]
    rows += [{"asin": "N", "question": "did it\ncome with\r\nthe cable?", "label": "Post"}]
    source = write_csv(tmp_path / "raw.csv", rows)
    manifest = dp.prepare(data_config(tmp_path, source, total_sample_size=1000))
    assert manifest["rows_dropped"] == {"duplicate_question": 2, "empty_question": 2, "invalid_utf8": 0,
                                        "too_long_question": 1}
    assert manifest["rows_usable"] == 121
    everything = pd.concat(splits.read_split(data_config(tmp_path, source).prepared_dir, s) for s in splits.SPLITS)
    assert "did it come with the cable?" in set(everything["question"])


def test_a_repeated_question_is_kept_once_so_no_test_question_is_seen_in_training(tmp_path):
    rows = balanced_rows(60, 40) + [{"asin": f"R{i}", "question": "How loud is it?", "label": "Pre"} for i in range(30)]
    rows += [{"asin": "C", "question": "How loud is it?", "label": "Post"}]  # the same text, the other label: kept
    config = data_config(tmp_path, write_csv(tmp_path / "raw.csv", rows), total_sample_size=1000)
    manifest = dp.prepare(config)
    assert manifest["rows_dropped"]["duplicate_question"] == 29 and manifest["rows_usable"] == 102
    everything = pd.concat(splits.read_split(config.prepared_dir, s) for s in splits.SPLITS)
    assert sorted(everything[everything["question"] == "How loud is it?"]["label"]) == ["Post", "Pre"]


def test_non_utf8_rows_are_dropped_and_counted(tmp_path):
    text = pd.DataFrame(balanced_rows(30, 30)).to_csv(index=False).encode()
    source = tmp_path / "raw.csv"
    source.write_bytes(text + b"Z,caf\xe9 \xff question,Pre\n")
    manifest = dp.prepare(data_config(tmp_path, source, total_sample_size=1000))
    assert manifest["rows_dropped"]["invalid_utf8"] == 1 and manifest["rows_usable"] == 60


def test_truncated_gzip_is_a_clear_error_and_keeps_previous_splits(tmp_path):
    good = write_csv(tmp_path / "good.csv", balanced_rows(60, 40))
    dp.prepare(data_config(tmp_path, good, total_sample_size=100))
    payload = gzip.compress(pd.DataFrame(balanced_rows(500, 500)).to_csv(index=False).encode())
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(payload[: len(payload) // 2])
    config = data_config(tmp_path, bad, total_sample_size=100)
    with pytest.raises(dp.DataError, match="truncated or corrupt"):
        dp.prepare(config)
    assert splits.read_manifest(config.prepared_dir)["source"] == str(good)
    assert sorted(p.name for p in config.prepared_dir.iterdir()) == ["eval", "manifest.json", "test", "train"]


def test_unreachable_url_is_a_clear_error_and_writes_nothing(tmp_path):
    config = data_config(tmp_path, "http://127.0.0.1:9/PrePostQuestions.csv", download_timeout_seconds=5)
    with pytest.raises(dp.DataError, match="could not download data source http://127.0.0.1:9/"):
        dp.prepare(config)
    assert not config.prepared_dir.exists()
    assert not list(tmp_path.glob(".prepared*"))


def test_missing_local_file_is_named(tmp_path):
    with pytest.raises(dp.DataError, match="data source not found"):
        dp.prepare(data_config(tmp_path, tmp_path / "absent.csv"))


def test_too_few_rows_for_every_split_is_an_error(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(3, 1))
    # 3 Pre rows go train 2, eval 1; the one Post row goes to train: eval is the first split without a label.
    with pytest.raises(dp.DataError, match=r"split 'eval' would have no \['Post'\] rows: .* \(4 after cleaning\)"):
        dp.prepare(data_config(tmp_path, source))


def test_bundled_data_is_a_real_downsample_with_enough_categories():
    frame = pd.read_csv(ROOT / "data" / "PrePostQuestions.csv.gz")
    assert list(frame.columns) == ["asin", "question", "item_name", "hours_diff", "label"]
    assert len(frame) >= 30000 and frame["item_name"].nunique() >= 60
    assert 0.5 < (frame["label"] == "Pre").mean() < 0.6


def test_remote_sources_are_read_through_tensorflows_file_systems(tmp_path):
    """gs:// goes through tf.io.gfile; its in-memory file system stands in for a bucket here."""
    import tensorflow as tf
    text = pd.DataFrame(balanced_rows(3, 2)).to_csv(index=False)
    with tf.io.gfile.GFile("ram://bucket/raw.csv", "w") as handle:
        handle.write(text)
    target = tmp_path / "copy.csv"
    dp._copy_with_tensorflow("ram://bucket/raw.csv", target)
    assert target.read_text() == text
    with pytest.raises(dp.DataError, match="could not read data source ram://bucket/missing.csv"):
        dp._copy_with_tensorflow("ram://bucket/missing.csv", tmp_path / "missing.csv")
    missing = f"file://{tmp_path}/none.csv"
    with pytest.raises(dp.DataError, match=f"could not read data source {missing}: {missing}; No such file"):
        dp._copy_with_tensorflow(missing, tmp_path / "none-copy.csv")


def test_source_version_changes_when_the_file_does(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(3, 2))
    before = dp.source_version(str(source))
    write_csv(source, balanced_rows(4, 2))
    assert before and dp.source_version(str(source)) != before
    assert dp.source_version("gs://bucket/raw.csv") == "" and dp.source_version(str(tmp_path / "none.csv")) == ""


def test_example_gen_patterns_find_exactly_each_split_file(tmp_path):
    """CsvExampleGen reads each split through its pattern, relative to the prepared folder."""
    dp.prepare(data_config(tmp_path, write_csv(tmp_path / "raw.csv", balanced_rows(30, 20)), total_sample_size=50))
    prepared = tmp_path / "prepared"
    for split in splits.SPLITS:
        assert sorted(prepared.glob(splits.example_gen_pattern(split))) == [splits.split_path(prepared, split)]


@pytest.mark.parametrize("slash", ["", "/"])
def test_upload_copies_the_manifest_and_every_split_into_a_new_folder_and_overwrites(tmp_path, slash):
    """The target (a path here; a gs:// bucket on Kubeflow, through the same tf.io.gfile calls) receives the
    layout the readers expect, its folders made on the way; a second upload replaces the files."""
    source = write_csv(tmp_path / "raw.csv", balanced_rows(30, 20))
    prepared = tmp_path / "prepared"
    target = tmp_path / "bucket" / "run" / "prepared"
    names = [splits.MANIFEST_NAME] + [str(Path(split) / splits.SPLIT_FILE_NAME) for split in splits.SPLITS]
    for seed in (1, 2):
        dp.prepare(data_config(tmp_path, source, total_sample_size=50, random_seed=seed))
        splits.upload(prepared, str(target) + slash)
        for name in names:
            assert (target / name).read_bytes() == (prepared / name).read_bytes(), name
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(names)


def test_split_files_are_read_back_as_the_exact_strings_written(tmp_path):
    """'NA', '007', '1e3' and '' are questions, not a missing value or numbers."""
    questions = ["NA", "007", "1e3", "", "null"]
    frame = pd.DataFrame({"question": questions, "label": ["Pre", "Post", "Pre", "Post", "Pre"]})
    splits.write_splits(tmp_path / "prepared", {"train": frame}, {"rows": 5})
    back = splits.read_split(tmp_path / "prepared", "train")
    assert back["question"].tolist() == questions and back["label"].tolist() == frame["label"].tolist()


class WatchedFrame(pd.DataFrame):
    """A split whose writing looks at the folders beside the target (or fails, to stop write_splits midway)."""

    def to_csv(self, path, **kwargs):
        seen = sorted(p.name for p in Path(path).parents[2].iterdir())
        if self.attrs.get("fail"):
            raise OSError("disk full")
        self.attrs["seen"] = seen
        return super().to_csv(path, **kwargs)


def test_splits_are_built_in_a_hidden_folder_beside_the_target_then_swapped_in_whole(tmp_path):
    """Beside it: the final rename stays on one file system (atomic). Hidden: a hard kill leaves no visible
    folder. Made with its missing parents; the previous splits go away with no leftover."""
    prepared = tmp_path / "new" / "deeper" / "prepared"
    splits.write_splits(prepared, {"train": pd.DataFrame({"question": ["a"], "label": ["Pre"]})}, {"n": 1})
    frame = WatchedFrame({"question": ["b"], "label": ["Post"]})
    splits.write_splits(prepared, {"train": frame}, {"n": 2})
    staging = [name for name in frame.attrs["seen"] if name != "prepared"]
    assert len(staging) == 1 and staging[0].startswith(".prepared-"), frame.attrs["seen"]
    assert [p.name for p in prepared.parent.iterdir()] == ["prepared"]
    assert splits.read_split(prepared, "train")["question"].tolist() == ["b"]
    manifest_lines = (prepared / splits.MANIFEST_NAME).read_text().splitlines()
    assert manifest_lines == ["{", '  "n": 2', "}"]  # a person reads it: one key a line


def test_a_write_that_fails_midway_keeps_the_previous_splits_and_leaves_nothing_beside_them(tmp_path):
    prepared = tmp_path / "prepared"
    splits.write_splits(prepared, {"train": pd.DataFrame({"question": ["a"], "label": ["Pre"]})}, {"n": 1})
    before = {p.relative_to(prepared): p.read_bytes() for p in prepared.rglob("*") if p.is_file()}
    failing = WatchedFrame({"question": ["b"], "label": ["Post"]})
    failing.attrs["fail"] = True
    with pytest.raises(OSError, match="disk full"):
        splits.write_splits(prepared, {"train": failing}, {"n": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]
    assert {p.relative_to(prepared): p.read_bytes() for p in prepared.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("target", ["ram://bucket-a/ppq-X", "ram://bucket-b/ppq-X/"])
def test_upload_to_a_bucket_writes_each_file_once_under_the_folder_as_named(tmp_path, target):
    """Object stores keep 'a//b' and 'a/b' apart (TensorFlow's in-memory file system too): the files must land
    exactly at <target>/<name>, whether or not the target ends with '/'."""
    import tensorflow as tf
    dp.prepare(data_config(tmp_path, write_csv(tmp_path / "raw.csv", balanced_rows(30, 20)), total_sample_size=50))
    prepared = tmp_path / "prepared"
    splits.upload(prepared, target)
    base = target.rstrip("/")
    for name in [splits.MANIFEST_NAME] + [f"{split}/{splits.SPLIT_FILE_NAME}" for split in splits.SPLITS]:
        with tf.io.gfile.GFile(f"{base}/{name}", "rb") as handle:
            assert handle.read() == (prepared / name).read_bytes(), name
