"""A model server's load, read back from its Prometheus metrics text (the app's sidebar and the serving benchmark).

Works on TensorFlow Serving's scrape and the local server's alike: both use the names in serving/metric_names.py.
"""

from __future__ import annotations

import collections
import dataclasses
import time

from prometheus_client.parser import text_string_to_metric_families

from serving.metric_names import BATCH_SIZE, REQUEST_COUNT, REQUEST_LATENCY, VERSION_LATENCY


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a scrape says, summed over labels: request count, latency and batch-size histograms."""
    taken_at: float
    requests: float
    latency_buckets_us: tuple[tuple[float, float], ...]  # (upper bound, cumulative count)
    batch_buckets: tuple[tuple[float, float], ...]
    batch_rows: float
    batches: float


def parse(text: str, model_name: str, taken_at: float | None = None) -> Snapshot:
    requests, batch_rows, batches = 0.0, 0.0, 0.0
    latency: collections.Counter[float] = collections.Counter()
    batch: collections.Counter[float] = collections.Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("model_name") != model_name:
                continue
            if sample.name == REQUEST_COUNT:
                requests += sample.value
            elif sample.name == REQUEST_LATENCY + "_bucket":
                latency[float(sample.labels["le"])] += sample.value
            elif sample.name == BATCH_SIZE + "_bucket":
                batch[float(sample.labels["le"])] += sample.value
            elif sample.name == BATCH_SIZE + "_sum":
                batch_rows += sample.value
            elif sample.name == BATCH_SIZE + "_count":
                batches += sample.value
    return Snapshot(time.monotonic() if taken_at is None else taken_at, requests, tuple(sorted(latency.items())),
                    tuple(sorted(batch.items())), batch_rows, batches)


def parse_versions(text: str, model_name: str, taken_at: float | None = None) -> dict[int, Snapshot]:
    """Per served version: its answered requests and their latency histogram (VERSION_LATENCY), as Snapshots."""
    counts: collections.Counter[int] = collections.Counter()
    buckets: dict[int, collections.Counter[float]] = collections.defaultdict(collections.Counter)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("model_name") != model_name or "version" not in sample.labels:
                continue
            version = int(sample.labels["version"])
            if sample.name == VERSION_LATENCY + "_count":
                counts[version] += sample.value
            elif sample.name == VERSION_LATENCY + "_bucket":
                buckets[version][float(sample.labels["le"])] += sample.value
    taken_at = time.monotonic() if taken_at is None else taken_at
    return {version: Snapshot(taken_at, counts[version], tuple(sorted(buckets[version].items())), (), 0.0, 0.0)
            for version in sorted(counts)}


def _delta(after: tuple[tuple[float, float], ...], before: tuple[tuple[float, float], ...] | None):
    earlier = dict(before or ())
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket that holds the q-th observation."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


@dataclasses.dataclass(frozen=True)
class Load:
    """The server's load between two snapshots (or since it started, with no earlier one)."""
    requests: float
    per_second: float | None
    p50_ms: float | None
    mean_batch: float | None
    batch_p50: float | None
    batch_p90: float | None


def load_between(after: Snapshot, before: Snapshot | None = None) -> Load:
    latency = _delta(after.latency_buckets_us, before.latency_buckets_us if before else None)
    batch = _delta(after.batch_buckets, before.batch_buckets if before else None)
    requests = after.requests - (before.requests if before else 0.0)
    seconds = after.taken_at - before.taken_at if before else 0.0
    batches = after.batches - (before.batches if before else 0.0)
    rows = after.batch_rows - (before.batch_rows if before else 0.0)
    p50_us = quantile(latency, 0.5)
    return Load(requests, requests / seconds if seconds > 0 else None, p50_us / 1000 if p50_us is not None else None,
                rows / batches if batches > 0 else None, quantile(batch, 0.5), quantile(batch, 0.9))
