"""Where a py-spy profile (``--format raw``: collapsed stacks) spends its samples: by leaf and by our frames.

Run: python -m experiments.profile_summary outputs/bench/profiles/server-grpc-32.txt [--top 15]
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def load(path: Path) -> collections.Counter[tuple[str, ...]]:
    stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """``function (path/to/file.py:12)`` -> ``function (file.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.split(':')[0]).name})" if where else name


def summary(stacks: collections.Counter[tuple[str, ...]], top: int) -> str:
    total = sum(stacks.values()) or 1
    leaves: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for stack, count in stacks.items():
        leaves[short(stack[-1])] += count
        for frame in {short(f) for f in stack}:
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self (leaf frame)                                              share"]
    lines += [f"  {name[:60]:60s} {count / total:6.1%}" for name, count in leaves.most_common(top)]
    lines += ["", "inclusive                                                      share"]
    lines += [f"  {name[:60]:60s} {count / total:6.1%}" for name, count in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print(summary(load(args.profile), args.top))


if __name__ == "__main__":
    main()
