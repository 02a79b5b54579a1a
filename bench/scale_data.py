"""Raw data of any size in the bundled schema, for the scale benchmark.

The bundled sample has 40,000 rows; the public dataset has 232,492. To measure the pipeline at that
size, this re-samples the bundled rows (with replacement, fixed seed) at the public dataset's label
balance (57.7% Pre) and varies each copy a little (greeting, closing, one typo, casing), so that nearly
every row survives data preparation's de-duplication.

Run: python -m bench.scale_data --rows 250000 --out /tmp/rows-250000.csv.gz
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import pandas as pd

import features
from common import config as configs

PUBLIC_PRE_SHARE = 0.577
GREETINGS = ["", "", "Hi, ", "Hello, ", "Hey, ", "Quick question: ", "Question - ", "Hi all, ", "Good day, ", "Help: "]
CLOSINGS = ["", "", " Thanks.", " Thank you!", " thanks", " Cheers.", " TIA", " Appreciate it.", " Any tips?", " :)"]


def _typo(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters in one word of four letters or more."""
    words = text.split(" ")
    candidates = [i for i, word in enumerate(words) if len(word) >= 4]
    if not candidates:
        return text
    i = rng.choice(candidates)
    j = rng.randrange(1, len(words[i]) - 1)
    words[i] = words[i][:j - 1] + words[i][j] + words[i][j - 1] + words[i][j + 1:]
    return " ".join(words)


def vary(question: str, rng: random.Random) -> str:
    text = _typo(question, rng) if rng.random() < 0.5 else question
    roll = rng.random()
    if roll < 0.1:
        text = text.lower()
    elif roll < 0.2:
        text = text[:1].lower() + text[1:]
    return rng.choice(GREETINGS) + text + rng.choice(CLOSINGS)


def scaled_rows(source: pd.DataFrame, rows: int, seed: int, pre_share: float = PUBLIC_PRE_SHARE) -> pd.DataFrame:
    """``rows`` rows drawn from ``source`` with replacement at ``pre_share`` Pre, each question varied."""
    np_rng, rng = np.random.default_rng(seed), random.Random(seed)
    pre_rows = int(round(rows * pre_share))
    parts = []
    for label, count in ((features.PRE, pre_rows), (features.POST, rows - pre_rows)):
        pool = source[source["label"] == label]
        parts.append(pool.iloc[np_rng.integers(0, len(pool), count)])
    frame = pd.concat(parts).iloc[np_rng.permutation(rows)].reset_index(drop=True)
    frame["question"] = [vary(q, rng) for q in frame["question"]]
    return frame


def write_scaled_csv(rows: int, out: Path, seed: int = 0) -> Path:
    """Write ``rows`` varied rows of the bundled data to ``out`` (gzip CSV) unless it is already there."""
    if out.is_file():
        return out
    source = pd.read_csv(configs.load(environ={}).data.source, dtype=str, keep_default_na=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    scaled_rows(source, rows, seed).to_csv(partial, index=False, compression="gzip")
    partial.rename(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"wrote {write_scaled_csv(args.rows, args.out, args.seed)}")


if __name__ == "__main__":
    main()
