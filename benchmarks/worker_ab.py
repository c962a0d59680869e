"""This checkout's worker against another checkout's, on one broker and the same events.

The worker's pace moves by a tenth or more from one run of ``kafka_throughput`` to the next,
and the machine drifts between two runs of it: too much to tell a small change from noise.
Here both workers read the same 200,000 events from one broker, in alternating order, and
the mean of each is printed with their ratio. Usage::

    git worktree add /tmp/before <commit>
    python -m benchmarks.worker_ab /tmp/before --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.kafka_throughput import broker_with_events, worker
from tools.kafka_local import REPO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each worker")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    with broker_with_events(args.events) as (broker, events):
        trees = {"this": REPO, "other": args.other.resolve()}
        rates: dict[str, list[float]] = {"this": [], "other": []}
        for number in range(args.rounds):
            for name in ("this", "other") if number % 2 == 0 else ("other", "this"):
                rate = worker(broker.bootstrap, len(events), name=name, tree=trees[name])
                rates[name].append(rate.per_second)
                print(f"{name:6} {rate.per_second:>10,.0f} events/s", flush=True)
    this, other = statistics.mean(rates["this"]), statistics.mean(rates["other"])
    print(f"mean: this {this:,.0f}, other ({args.other}) {other:,.0f} events/s")
    print(f"this / other: {this / other:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
