"""One queue's window log over hours of event time: the cost of late contributions.

Usage::

    python -m benchmarks.contribution_log [--hours 3] [--per-second 50] [--late-within 300]

A queue's :class:`~metrics.window_log.ContributionLog` holds its last hour of contributions
(the widest rolling window) as now moves on: ``--per-second`` contributions a second of
event time, the log's oldest dropped through now minus an hour once a second, as a worker's
advance drops them. A share of the contributions come late, up to ``--late-within`` seconds
before the newest (a changed visit's, at its older times). Each share is timed over the same
hours; the baseline, in the same run, is the log with none late. Printed for each: the mean
cost of a contribution and the longest single add (a compaction within it: the event loop
waits that long).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import NamedTuple

from metrics.window_log import ContributionLog

HOUR_US = 3_600_000_000
SHARES = (0.0, 0.05, 0.2, 0.5)  # the first, none late, is the baseline


class Timing(NamedTuple):
    mean_us: float
    longest_ms: float
    held: int


def contributions(
    hours: float, per_second: int, late_share: float, late_within_us: int
) -> list[tuple[int, int, int]]:
    """``(time, slot, value)`` in the order logged, the same for every run of one share."""
    rng, step_us = random.Random(7), 1_000_000 // per_second
    found, newest = [], HOUR_US
    for _ in range(int(hours * 3600 * per_second)):
        newest += step_us
        at = newest - rng.randrange(1, late_within_us) if rng.random() < late_share else newest
        found.append((at, rng.randrange(40), rng.choice((1, -1, 1_234_567))))
    return found


def timed(logged: list[tuple[int, int, int]], per_second: int) -> Timing:
    log, longest = ContributionLog(64), 0.0
    started = time.perf_counter()
    for count, (at, slot, value) in enumerate(logged, start=1):
        before = time.perf_counter()
        log.add(at, slot, value)
        longest = max(longest, time.perf_counter() - before)
        if count % per_second == 0:  # once a second of event time, as an advance does
            log.drop_through(at - HOUR_US)
    seconds = time.perf_counter() - started
    return Timing(seconds / len(logged) * 1e6, longest * 1e3, len(log))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--per-second", type=int, default=50)
    parser.add_argument("--late-within", type=int, default=300, help="seconds")
    args = parser.parse_args(argv)
    print(f"{args.hours} h at {args.per_second} contributions/s; late ones up to {args.late_within} s old")
    print(
        f"{'late share':>10}{'µs a contribution':>20}{'longest add, ms':>18}{'held':>10}{'/ none late':>13}"
    )
    baseline = None
    for share in SHARES:
        logged = contributions(args.hours, args.per_second, share, args.late_within * 1_000_000)
        timing = timed(logged, args.per_second)
        baseline = baseline or timing.mean_us
        print(
            f"{share:>10.2f}{timing.mean_us:>20.2f}{timing.longest_ms:>18.1f}{timing.held:>10,}"
            f"{timing.mean_us / baseline:>12.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
