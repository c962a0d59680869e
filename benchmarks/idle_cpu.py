"""An idle worker's CPU: what it costs to wait, against a bare consumer waiting on the same topics.

Usage (``make bench`` runs it)::

    python -m benchmarks.idle_cpu [--seconds 60] [--rounds 2] [--tree BUILD] [--against OTHER ...]

One local broker; no event is published. Each worker (this checkout's, or ``--tree``, and each
``--against`` checkout, in alternating order) starts on topics of its own, is left 15 s to
settle, and its CPU time is read from ``/proc`` over ``--seconds``. The baseline, in the same
run: a bare aiokafka consumer (its default 500 ms fetch wait) of the calls and agents topics,
in a process of its own. A worker waits on more topics (its internal ones and changelogs),
collects its producer's reports and keeps its timers: the ratio says what that costs.
``FETCH_MAX_WAIT_MS`` (``stream/faust_internals.py``) was chosen with it: a worktree per
value, passed as ``--against``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from benchmarks.kafka_relay import events_consumer
from benchmarks.kafka_throughput import RUN, cpu_seconds, start_worker, stop
from benchmarks.worker_ab import in_round_order
from tools.kafka_local import REPO, LocalKafka, free_port

SETTLE_SECONDS = 15.0


def idle_share(child: subprocess.Popen[bytes], seconds: float) -> float:
    """The share of one core ``child`` uses over ``seconds``, after it settled."""
    time.sleep(SETTLE_SECONDS)
    cpu, started = cpu_seconds(child.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(child.pid) - cpu) / (time.monotonic() - started)


def idle_worker(bootstrap: str, prefix: str, tree: Path, seconds: float) -> float:
    child = start_worker(bootstrap, free_port(), prefix=prefix, tree=tree)
    try:
        return idle_share(child, seconds)
    finally:
        stop(child)


def idle_bare_consumer(bootstrap: str, prefix: str, seconds: float) -> float:
    """The baseline, on topics a worker made (``prefix``'s)."""
    command = [sys.executable, "-m", "benchmarks.idle_cpu", "--bare-consumer", bootstrap, prefix]
    child = subprocess.Popen(command, cwd=REPO)
    try:
        return idle_share(child, seconds)
    finally:
        stop(child)


async def consume_forever(bootstrap: str, prefix: str) -> None:
    """The baseline's process: a bare consumer that waits for events that never come."""
    consumer = events_consumer(bootstrap, prefix, "idle")
    await consumer.start()
    while True:
        await consumer.getmany(timeout_ms=1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tree", type=Path, default=REPO, help="the build measured (make bench: compiled)")
    parser.add_argument("--against", type=Path, nargs="*", default=[], help="other checkouts' workers")
    parser.add_argument("--bare-consumer", nargs=2, metavar=("BOOTSTRAP", "PREFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_consumer:
        asyncio.run(consume_forever(*args.bare_consumer))
        return 0
    trees = [args.tree.resolve(), *(other.resolve() for other in args.against)]
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka-idle", port=free_port())
    try:
        shares = measure(broker.bootstrap, trees, args.rounds, args.seconds)
    finally:
        broker.stop()
    report(shares)
    return 0


def measure(bootstrap: str, trees: list[Path], rounds: int, seconds: float) -> dict[str, list[float]]:
    shares: dict[str, list[float]] = {name: [] for name in ["bare consumer", *map(str, trees)]}
    for number in range(rounds):
        prefix = f"idle{number}-{uuid.uuid4().hex[:6]}."
        for tree in in_round_order(trees, number):
            shares[str(tree)].append(idle_worker(bootstrap, prefix + tree.name + ".", tree, seconds))
            print(f"{tree}: {shares[str(tree)][-1]:.2%} of a core", flush=True)
        shares["bare consumer"].append(idle_bare_consumer(bootstrap, prefix + trees[0].name + ".", seconds))
        print(f"bare consumer: {shares['bare consumer'][-1]:.2%} of a core", flush=True)
    return shares


def report(shares: dict[str, list[float]]) -> None:
    bare = statistics.mean(shares["bare consumer"])
    print(f"{'idle, mean of the rounds':60}{'of a core':>10}{'/ bare':>8}")
    for name, found in shares.items():
        mean = statistics.mean(found)
        print(f"{name:60}{mean:>10.2%}{mean / bare:>7.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
