"""Data preparation claims checked against oracles written here, not against the preparation code's own counts:
every raw row accounted for, disjoint per-label stratified splits, URL downloads (a local HTTP server), and
splits() / manifest layout."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from common import config as configs
from dataprep import preparation as dp
from dataprep import splits
from tests.data_oracle import assert_accounted_disjoint_stratified, independent_expectation
from tests.helpers import ROOT

RAW_CONFIG = json.loads((ROOT / "config.json").read_text())


def data_config(tmp_path: Path, source: str, **overrides) -> configs.DataConfig:
    raw = json.loads(json.dumps(RAW_CONFIG))
    raw["data"].update(source=source, prepared_dir=str(tmp_path / "prepared"), **overrides)
    return configs.from_dict(raw, environ={}).data


def raw_csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["asin", "question", "label"])
    writer.writerows([(f"A{i}", q, lab) for i, (q, lab) in enumerate(rows)])
    return out.getvalue().encode()


MESSY = ([(f"does model {i} fit a {i % 7}-inch shelf?", "Pre") for i in range(130)]
         + [(f"mine stopped after {i} days, what now?", "Post") for i in range(70)]
         + [("does model 3 fit a 3-inch shelf?", "Pre")] * 4          # duplicates
         + [("does it  come\nwith a case?", "Post"), ("does it come with a case?", "Pre")]  # same text, both labels
         + [("   ", "Pre"), ("", "Post")]                              # empty
         + [("x" * 2001, "Post"), ("y" * 2000, "Pre")]                 # one over the limit, one at it
         + [(" padded question ", " Post ")])


def test_every_raw_row_is_accounted_for_and_splits_are_disjoint_and_stratified(tmp_path):
    payload = raw_csv(MESSY)
    source = tmp_path / "raw.csv"
    source.write_bytes(payload)
    config = data_config(tmp_path, str(source), total_sample_size=150)
    manifest = dp.prepare(config)
    expected = independent_expectation(payload)
    assert expected["dropped"] == {"duplicate_question": 4, "empty_question": 2, "too_long_question": 1}
    assert_accounted_disjoint_stratified(config, manifest, expected)
    assert manifest["label_counts_usable"] == dict(Counter(label for _, label in expected["kept"]))
    assert json.loads((config.prepared_dir / "manifest.json").read_text()) == manifest


def test_split_files_have_exactly_question_and_label_columns(tmp_path):
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY).replace(b"asin,question,label", b"asin,question,label", 1))
    config = data_config(tmp_path, str(source), total_sample_size=100)
    dp.prepare(config)
    for split in splits.SPLITS:
        header = splits.split_path(config.prepared_dir, split).read_text().splitlines()[0]
        assert header == "question,label"


def test_other_column_names_are_mapped_onto_question_and_label(tmp_path):
    payload = raw_csv(MESSY).replace(b"asin,question,label", b"id,text,target", 1)
    source = tmp_path / "raw.csv"
    source.write_bytes(payload)
    config = data_config(tmp_path, str(source), total_sample_size=80, text_column="text", label_column="target")
    manifest = dp.prepare(config)
    assert_accounted_disjoint_stratified(config, manifest, independent_expectation(payload, "text", "target"))


def test_force_rebuilds_even_when_up_to_date(tmp_path, capsys):
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY))
    config = data_config(tmp_path, str(source), total_sample_size=60)
    dp.prepare(config)
    manifest_file = config.prepared_dir / "manifest.json"
    manifest_file.write_text(manifest_file.read_text().replace('"rows_read"', '"rows_read_marker"'))
    assert "rows_read_marker" in dp.prepare(config)  # up to date: the manifest on disk is returned as is
    assert "up to date" in capsys.readouterr().out
    assert "rows_read_marker" not in dp.prepare(config, force=True)
    assert "rows_read_marker" not in manifest_file.read_text()


# ---------------------------------------------------------------- downloads from a local HTTP server

def serve(handler_body) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            handler_body(self)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def http():
    servers = []

    def start(handler_body) -> str:
        server, url = serve(handler_body)
        servers.append(server)
        return url
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_gzipped_csv_is_downloaded_and_prepared(tmp_path, http):
    payload = raw_csv(MESSY)
    packed = gzip.compress(payload)

    def body(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed)
    url = http(body) + "/data/PrePostQuestions.csv.gz?version=1"
    config = data_config(tmp_path, url, total_sample_size=100)
    manifest = dp.prepare(config)
    assert manifest["source"] == url
    assert_accounted_disjoint_stratified(config, manifest, independent_expectation(payload))


def half_then_closed(packed: bytes):
    """An HTTP answer that promises all of ``packed``, sends half, and closes the connection midway."""
    def body(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed[: len(packed) // 2])
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)
    return body


def test_a_download_cut_short_is_a_named_error_and_leaves_nothing(tmp_path, http):
    url = http(half_then_closed(gzip.compress(raw_csv(MESSY)))) + "/raw.csv.gz"
    config = data_config(tmp_path, url, total_sample_size=100)
    with pytest.raises(dp.DataError) as info:
        dp.prepare(config)
    assert url in str(info.value) and ("cut short" in str(info.value) or "IncompleteRead" in str(info.value))
    assert not config.prepared_dir.exists()


def test_a_missing_url_is_a_named_error(tmp_path, http):
    def body(handler) -> None:
        handler.send_error(404, "no such file")
    url = http(body) + "/gone.csv"
    config = data_config(tmp_path, url)
    with pytest.raises(dp.DataError, match=r"could not download data source .*gone\.csv: no such file"):
        dp.prepare(config)
    assert not config.prepared_dir.exists()


def test_a_missing_local_file_is_a_named_error(tmp_path):
    config = data_config(tmp_path, str(tmp_path / "nope.csv"))
    with pytest.raises(dp.DataError, match="data source not found: .*nope.csv"):
        dp.prepare(config)


def test_small_chunks_give_the_same_splits_and_counts(tmp_path):
    payload = raw_csv(MESSY)
    source = tmp_path / "raw.csv"
    source.write_bytes(payload)
    whole = data_config(tmp_path / "whole", str(source), total_sample_size=120)
    chunked = data_config(tmp_path / "chunked", str(source), total_sample_size=120, chunk_rows=100)
    first, second = dp.prepare(whole), dp.prepare(chunked)
    assert_accounted_disjoint_stratified(chunked, second, independent_expectation(payload))
    for split in splits.SPLITS:
        assert splits.read_split(whole.prepared_dir, split).equals(splits.read_split(chunked.prepared_dir, split))
    assert {k: v for k, v in first.items() if k != "seconds"} == {k: v for k, v in second.items() if k != "seconds"}


def test_the_seed_fixes_the_sample_and_another_seed_changes_it(tmp_path):
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY))

    def train_rows(name: str, seed: int) -> list:
        config = data_config(tmp_path / name, str(source), total_sample_size=100, random_seed=seed)
        dp.prepare(config)
        return splits.read_split(config.prepared_dir, "train").values.tolist()
    assert train_rows("a", 1) == train_rows("b", 1) != train_rows("c", 2)


def test_the_manifest_records_source_settings_and_layout(tmp_path):
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY))
    config = data_config(tmp_path, str(source), total_sample_size=90)
    manifest = dp.prepare(config)
    assert manifest["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["settings"] == {"text_column": "question", "label_column": "label", "total_sample_size": 90,
                                    "split_fractions": config.split_fractions, "random_seed": config.random_seed}
    assert manifest["rows_sampled"] == 90 and manifest["seconds"] >= 0
    for split in splits.SPLITS:
        frame = splits.read_split(config.prepared_dir, split)
        assert manifest["splits"][split] == {"rows": len(frame), "labels": frame["label"].value_counts().to_dict(),
                                             "path": f"{split}/data.csv"}


def test_a_download_without_content_length_is_read_to_the_end(tmp_path, http):
    payload = raw_csv(MESSY)

    def body(handler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(payload)
        handler.close_connection = True
    url = http(body) + "/raw.csv"
    config = data_config(tmp_path, url, total_sample_size=100)
    manifest = dp.prepare(config)
    assert manifest["source_sha256"] == hashlib.sha256(payload).hexdigest()
    assert_accounted_disjoint_stratified(config, manifest, independent_expectation(payload))


def test_an_empty_file_and_a_header_only_file_are_named(tmp_path):
    empty, header = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_bytes(b"")
    header.write_bytes(b"asin,question,label\n")
    with pytest.raises(dp.DataError, match=r"^empty\.csv: the file is empty \(no header row\)$"):
        dp.prepare(data_config(tmp_path, str(empty)))
    with pytest.raises(dp.DataError, match=r"^header\.csv: the file has a header but no rows$"):
        dp.prepare(data_config(tmp_path, str(header)))


def test_a_stalled_download_times_out_after_the_configured_seconds(tmp_path, http):
    """download_timeout_seconds reaches the download: a server that answers only after 5 s is given up on."""
    def body(handler) -> None:
        time.sleep(5)
        handler.send_error(500, "too late")
    url = http(body) + "/slow.csv"
    config = data_config(tmp_path, url, download_timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(dp.DataError, match=r"could not download data source .*slow\.csv: timed out"):
        dp.prepare(config)
    assert time.monotonic() - started < 4
    assert not config.prepared_dir.exists()


def test_questions_that_look_like_numbers_are_kept_as_written(tmp_path):
    rows = [(f"{i:04d}", "Pre" if i % 2 else "Post") for i in range(60)]
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(rows))
    config = data_config(tmp_path, str(source), total_sample_size=60)
    dp.prepare(config)
    written = {q for s in splits.SPLITS for q in splits.read_split(config.prepared_dir, s)["question"]}
    assert written == {q for q, _ in rows}


def test_a_malformed_csv_is_named_with_the_parsers_reason(tmp_path):
    source = tmp_path / "raw.csv"
    source.write_bytes(b"asin,question,label\nA1,is it red?,Pre\nA2,it broke,Post,extra,fields\n")
    with pytest.raises(dp.DataError, match=r"^raw\.csv: not a readable CSV file: Error tokenizing data\. "
                                           r"C error: Expected 3 fields in line 3, saw 5"):
        dp.prepare(data_config(tmp_path, str(source)))


def test_progress_and_a_one_line_summary_are_shown(tmp_path, capsys):
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY))
    config = data_config(tmp_path, str(source), total_sample_size=100)
    started = time.monotonic()
    manifest = dp.prepare(config)
    elapsed = time.monotonic() - started
    shown = capsys.readouterr()
    assert f"read rows: {len(MESSY)}row [" in shown.err
    sizes = manifest["splits"]
    assert shown.out.splitlines()[-1] == (
        f"data: 100 rows in {config.prepared_dir} (train={sizes['train']['rows']}, eval={sizes['eval']['rows']}, "
        f"test={sizes['test']['rows']}); dropped {manifest['rows_dropped']}")
    assert 0 <= manifest["seconds"] <= elapsed + 0.005


def test_a_failed_download_through_the_cli_leaves_the_previous_splits_as_they_were(tmp_path, http, monkeypatch, capsys):
    """`prepare --force` from a URL whose download is cut short: one error line, and the splits of the last good
    run are still there, byte for byte."""
    from pipeline import cli
    from tests.helpers import write_config
    source = tmp_path / "raw.csv"
    source.write_bytes(raw_csv(MESSY))
    path = write_config(tmp_path, {"data": {"source": str(source), "total_sample_size": 100, "chunk_rows": 1000}})
    assert cli.main(["--config", str(path), "prepare"]) == 0
    prepared = configs.load(path, environ={}).data.prepared_dir
    before = {p.relative_to(prepared): p.read_bytes() for p in sorted(prepared.rglob("*")) if p.is_file()}
    assert len(before) >= 4  # the manifest and a file per split
    url = http(half_then_closed(gzip.compress(raw_csv(MESSY)))) + "/raw.csv.gz"
    monkeypatch.setenv("PPQ_DATA__SOURCE", url)
    capsys.readouterr()
    assert cli.main(["--config", str(path), "prepare", "--force"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: could not download data source " + url), errors
    after = {p.relative_to(prepared): p.read_bytes() for p in sorted(prepared.rglob("*")) if p.is_file()}
    assert after == before
