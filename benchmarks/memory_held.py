"""Memory at a million calls a day: a worker holding as much as it holds in a steady state.

Usage (``make bench`` runs it; about ten minutes)::

    python -m benchmarks.memory_held [--hours 8] [--tree OTHER_CHECKOUT]

With the default ``max_call_age`` of 4 hours, a worker keeps each call record and visit
8 hours after the call's newest event (docs/architecture.md, "What is kept"): in a steady
state it holds 8 hours of calls. A worker started now can only be given 4 hours of history
(older events are ``too_late``), so this one runs with ``max_call_age`` set to ``hours`` + 1,
which accepts the whole history and lets nothing go. It is given ``hours`` of traffic of
500 queues and 5,000 agents at a million calls a day (8 hours: about 333,000 calls): the
state of a steady state, without the churn of letting state go (``make soak-memory``
checks that over hours). Its resident memory is measured after processing and after a
restart, against a worker holding nothing, in the same run; with the garbage collector's
pauses meanwhile (a full collection takes about a microsecond an object held).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

from benchmarks.kafka_throughput import RUN, publish, start_worker, stop
from benchmarks.memory_soak import rss_mb
from benchmarks.recovery import history, wait_for
from benchmarks.scrape import stage_summary
from metrics.contract.events import Event
from stream.housekeeping import EVERY_SECONDS
from stream.worker import GIVE_BACK_MEMORY_SECONDS
from tools.kafka_local import REPO, LocalKafka, free_port

TARGET_MB = 300
NUDGE = 5_000  # events published again once caught up: see ``settle``


def config(hours: float) -> Path:
    path = RUN / "memory-held.toml"
    path.write_text(f"[limits]\nmax_call_age_seconds = {(hours + 1) * 3600:.0f}\n")
    return path


def settle(bootstrap: str, port: int, events: list[Event]) -> None:
    """Let the worker reach the state it keeps while traffic flows, then measure it.

    A worker looks after its partitions (expires old state, packs quiet calls and visits) as
    their records arrive. After the history there is no more traffic, so the last events are
    sent again, as duplicates that change nothing, once housekeeping is due.
    """
    time.sleep(EVERY_SECONDS + 1)
    asyncio.run(publish(bootstrap, events[-NUDGE:]))
    wait_for(port, lambda s: s["callcenter_consumer_lag_messages"] == 0, 600, "the nudge")
    time.sleep(GIVE_BACK_MEMORY_SECONDS + 1)  # the heap's free pages go back on a timer


def held(
    bootstrap: str, port: int, child: Popen[bytes], events: list[Event], done: Callable[..., bool]
) -> float:
    started = time.monotonic()
    wait_for(port, done, 7200, "processing")
    took = time.monotonic() - started
    settle(bootstrap, port, events)
    rss = rss_mb(child.pid)
    print(f"  caught up in {took:.0f} s; resident {rss:.0f} MB, peak {peak_mb(child.pid):.0f} MB", flush=True)
    print("  garbage collections meanwhile (each holds the event loop):", flush=True)
    print(*stage_summary(port, ("gc_young", "gc_full")) or ["  none"], sep="\n", flush=True)
    return rss


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def empty_worker(bootstrap: str, tree: Path) -> float:
    """Resident memory of a worker holding nothing, after its first give-back of free memory."""
    child = start_worker(bootstrap, free_port(), f"empty-{uuid.uuid4().hex[:6]}", tree=tree)
    try:
        time.sleep(GIVE_BACK_MEMORY_SECONDS + 1)
        return rss_mb(child.pid)
    finally:
        stop(child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--tree", type=Path, default=REPO, help="run another checkout's worker")
    args = parser.parse_args(argv)
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka-memory", port=free_port())
    app_id, settings = f"memory-{uuid.uuid4().hex[:6]}", config(args.hours)
    try:
        empty = empty_worker(broker.bootstrap, args.tree)
        print(f"a worker holding nothing: resident {empty:.0f} MB", flush=True)
        events = list(history(10**9, args.hours))
        calls = len({e.call_id for e in events if e.call_id is not None})
        print(f"publishing {len(events):,} events ({calls:,} calls, {args.hours:g} hours) ...", flush=True)
        asyncio.run(publish(broker.bootstrap, events))
        port = free_port()
        worker = start_worker(broker.bootstrap, port, app_id, config=settings, tree=args.tree)
        print("the worker processing them:", flush=True)
        processed = held(
            broker.bootstrap,
            port,
            worker,
            events,
            lambda s: (
                s["callcenter_events_total"] >= len(events) and s["callcenter_consumer_lag_messages"] == 0
            ),
        )
        offered = metric(port, "callcenter_calls_offered_total")
        stop(worker)
        restarted = start_worker(broker.bootstrap, port, app_id, wait=False, config=settings, tree=args.tree)
        print("a worker restarted over them:", flush=True)
        recovered = held(
            broker.bootstrap,
            port,
            restarted,
            events,
            lambda s: (
                s["callcenter_calls_offered_total"] == offered and s["callcenter_consumer_lag_messages"] == 0
            ),
        )
        stop(restarted)
        report(empty, processed, recovered, calls)
        return 0
    finally:
        broker.stop()


def metric(port: int, name: str) -> float:
    return wait_for(port, lambda s: name in s, 60, name)[name]


def report(empty: float, processed: float, recovered: float, calls: int) -> None:
    for what, rss in (("after processing", processed), ("after a restart", recovered)):
        per_call = (rss - empty) * 2**20 / calls
        met = "yes" if rss < TARGET_MB else "no"
        print(
            f"{what:17}: {rss:5.0f} MB = {rss / empty:.2f}x the empty worker; "
            f"{per_call:,.0f} bytes a call held; under {TARGET_MB} MB: {met}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
