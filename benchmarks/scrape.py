"""Reading a worker's /metrics in benchmarks: sums of samples by metric name."""

from __future__ import annotations

import urllib.request

STAGE_SECONDS = "callcenter_pipeline_stage_seconds"


def metric_sums(port: int, names: tuple[str, ...]) -> dict[str, float]:
    """The sum over all label sets of each named sample; ``{}`` while nothing is served.

    Reads the lines of the named metrics only: a full parse of a 500-queue page costs about
    a second of the benchmark's CPU, which the worker being measured would then lack.
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    sums: dict[str, float] = {}
    wanted = set(names)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in wanted:
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def stage_pauses(port: int, stage: str) -> tuple[int, float, str]:
    """One stage of a worker's ``callcenter_pipeline_stage_seconds``: how many were observed,
    their seconds in all, and the bound of the lowest bucket holding them all (the longest
    took no longer than that)."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=60) as response:  # a worker catching up answers slowly
        text = response.read().decode()
    label, buckets, count, total = f'stage="{stage}"', [], 0, 0.0
    for line in text.splitlines():
        if not line.startswith(STAGE_SECONDS) or label not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith(f"{STAGE_SECONDS}_bucket"):
            buckets.append((line.split('le="', 1)[1].split('"', 1)[0], value))
        elif line.startswith(f"{STAGE_SECONDS}_count"):
            count = int(value)
        else:
            total = value
    longest = next((le for le, cumulative in buckets if cumulative >= count), "+Inf")
    return count, total, longest
