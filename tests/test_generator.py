"""The bundled data's generator, through its command line: a seed gives byte-identical output."""

from __future__ import annotations

import gzip
import subprocess
import sys

from tests.helpers import ROOT


def generate(out, seed: int, rows: int = 300) -> bytes:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_synthetic_data.py"), "--rows", str(rows),
                    "--seed", str(seed), "--out", str(out)], check=True, capture_output=True, timeout=120)
    return out.read_bytes()


def test_same_seed_gives_byte_identical_output_and_another_seed_does_not(tmp_path):
    first = generate(tmp_path / "a.csv.gz", seed=11)
    second = generate(tmp_path / "b.csv.gz", seed=11)
    other = generate(tmp_path / "c.csv.gz", seed=12)
    assert first == second
    assert gzip.decompress(first) != gzip.decompress(other)
    lines = gzip.decompress(first).decode().splitlines()
    assert len(lines) >= 300 and "question" in lines[0] and "label" in lines[0]
