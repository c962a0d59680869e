"""Reading a worker's /metrics in benchmarks: sums of samples by metric name."""

from __future__ import annotations

import urllib.request


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
