"""Reading a worker's /metrics in benchmarks: sums of samples by metric name, and stages of
its pipeline histogram."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

STAGE_SECONDS = "callcenter_pipeline_stage_seconds"


def page_text(port: int, timeout: float) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        return str(response.read().decode())


def metric_sums(port: int, names: tuple[str, ...]) -> dict[str, float]:
    """The sum over all label sets of each named sample; ``{}`` while nothing is served.

    Reads the lines of the named metrics only: a full parse of a 500-queue page costs about
    a second of the benchmark's CPU, which the worker being measured would then lack.
    """
    try:
        text = page_text(port, 5)
    except OSError:
        return {}
    return sums_in(text, names)


def sums_in(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """The sum over all label sets of each named sample on a page already fetched."""
    sums: dict[str, float] = {}
    wanted = set(names)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in wanted:
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def stage_summary(port: int, stages: tuple[str, ...] | None = None) -> list[str]:
    """Where the worker's batches waited, and its collector's pauses: each stage's mean, 99th
    percentile and maximum (the upper bound of the bucket each falls in) from
    ``callcenter_pipeline_stage_seconds``; only ``stages`` when given, only stages observed."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(page_text(port, 10)):
        if family.name != STAGE_SECONDS:
            continue
        for sample in family.samples:
            stage = sample.labels["stage"]
            if stages is not None and stage not in stages:
                continue
            if sample.name.endswith("_bucket"):
                buckets.setdefault(stage, []).append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_sum"):
                sums[stage] = sample.value
    return [
        _stage_line(stage, sorted(found), sums[stage]) for stage, found in buckets.items() if found[-1][1]
    ]


def _stage_line(stage: str, buckets: list[tuple[float, float]], total: float) -> str:
    count, unit = buckets[-1][1], "collections" if stage.startswith("gc_") else "batches"
    p99, most = (next(bound for bound, running in buckets if running >= share * count) for share in (0.99, 1))
    # a stall holds one batch: its events are many, but it is below the batches' p99
    return (
        f"  {stage:14}{count:>9,.0f} {unit}  mean {total / count * 1e3:7.1f} ms"
        f"  p99 <= {p99 * 1e3:6.0f} ms  max <= {most * 1e3:6.0f} ms"
    )
