"""This checkout's worker against another checkout's, on one broker and the same events.

The worker's pace moves by a tenth or more from one run of ``kafka_throughput`` to the next,
and the machine drifts between two runs of it: too much to tell a small change from noise.
Here both workers read the same 200,000 events from one broker, in alternating order, and
the mean of each is printed with their ratio; and the same for each worker's CPU time an
event (the pace also waits on the broker). On a shared host both drift with the host: two
copies of one build, 3 rounds each, ran at 5,461-7,829 events/s and 122-170 µs an event.
Usage::

    git worktree add /tmp/before <commit>
    python -m benchmarks.worker_ab /tmp/before --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from benchmarks.kafka_throughput import broker_with_events, worker
from tools.kafka_local import REPO

T = TypeVar("T")


def in_round_order(contenders: Sequence[T], number: int) -> Sequence[T]:
    """The contenders in round ``number``'s order: reversed every other round, so a host that
    drifts during a run favours none of them."""
    return contenders if number % 2 == 0 else contenders[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each worker")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    with broker_with_events(args.events) as (broker, events):
        trees = {"this": REPO, "other": args.other.resolve()}
        rates: dict[str, list[float]] = {"this": [], "other": []}
        cpu: dict[str, list[float]] = {"this": [], "other": []}
        for number in range(args.rounds):
            for name in in_round_order(("this", "other"), number):
                rate = worker(broker.bootstrap, len(events), name=name, tree=trees[name])
                rates[name].append(rate.per_second)
                cpu[name].append(rate.cpu_us_per_event or 0.0)
                print(
                    f"{name:6} {rate.per_second:>10,.0f} events/s {cpu[name][-1]:>8.1f} µs CPU an event",
                    flush=True,
                )
    report(args.other, rates, cpu)
    return 0


def report(other_tree: Path, rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
    this, other = statistics.mean(rates["this"]), statistics.mean(rates["other"])
    print(f"mean: this {this:,.0f}, other ({other_tree}) {other:,.0f} events/s")
    print(f"this / other: {this / other:.2f}")
    this_cpu, other_cpu = statistics.mean(cpu["this"]), statistics.mean(cpu["other"])
    print(f"CPU an event, mean: this {this_cpu:.1f} µs, other {other_cpu:.1f} µs")
    print(f"other / this (CPU; above 1: this one does an event with less): {other_cpu / this_cpu:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
