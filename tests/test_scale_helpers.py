"""The scale benchmark's data helper and the cached TFX package for Beam arguments (no pipeline run)."""

import pandas as pd
import tfx

from bench.scale_data import scaled_rows
from common.config import PROJECT_ROOT
from pipeline import beam_dependencies


def test_scaled_rows_have_the_size_the_label_balance_and_few_repeats():
    source = pd.read_csv(PROJECT_ROOT / "data" / "PrePostQuestions.csv.gz", dtype=str, keep_default_na=False)
    frame = scaled_rows(source, 40_000, seed=1, pre_share=0.6)
    assert len(frame) == 40_000 and list(frame.columns) == list(source.columns)
    assert abs((frame["label"] == "Pre").mean() - 0.6) < 0.001
    assert frame.duplicated(["question", "label"]).mean() < 0.05  # most rows survive de-duplication
    assert scaled_rows(source, 500, seed=1).equals(scaled_rows(source, 500, seed=1))  # fixed seed


def test_beam_args_get_the_cached_tfx_package_only_when_tfx_would_build_one(tmp_path):
    cached = tmp_path / f"tfx_ephemeral-{tfx.__version__}.tar.gz"
    cached.write_bytes(b"a source package")  # already built: nothing is rebuilt
    assert beam_dependencies.with_cached_tfx_package([], tmp_path) == []
    named = ["--direct_num_workers=2", "--setup_file=/src/setup.py"]
    assert beam_dependencies.with_cached_tfx_package(named, tmp_path) == named
    args = beam_dependencies.with_cached_tfx_package(["--direct_num_workers=2"], tmp_path)
    assert args == ["--direct_num_workers=2", f"--extra_package={cached}"]
