"""Recovery: a worker restarted over a history of a million events, against reading it bare.

Usage (``make bench`` runs it with fewer events; the target is for 1,000,000)::

    python -m benchmarks.recovery [--events 1000000] [--tree OTHER_CHECKOUT]

Publishes simulated traffic of 500 queues and 5,000 agents at a million calls a day, timed
over the hours before now; a first worker processes all of it, then stops (SIGTERM, as in
a deploy). A second worker with the same app id starts: it is live again when ``/metrics``
shows the same all-time offered count as the first one did and nothing is left to read.
Two baselines: a worker starting over nothing (faust's own start-up and group join), and a
bare aiokafka consumer reading every changelog topic of the app from the start, the least
any recovery of in-memory tables has to do. Also prints each worker's
resident memory (the memory target is for this traffic).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.kafka_throughput import RUN, publish, start_worker, stop
from benchmarks.memory_soak import rss_mb
from benchmarks.scrape import metric_sums
from metrics.contract.events import Event
from metrics.timeutil import US
from stream.simulate import Simulation, Traffic
from tools.kafka_local import REPO, LocalKafka, free_port

WATCHED = ("callcenter_calls_offered_total", "callcenter_events_total", "callcenter_consumer_lag_messages")


def history(count: int, hours: float = 3.5) -> Iterator[Event]:
    """Up to ``count`` events of 500 queues and 5,000 agents at a million calls a day, of the
    ``hours`` before now."""
    now = time.time_ns() // 1000
    traffic = Traffic(
        queues=tuple(f"q{n:03d}" for n in range(500)),
        agents=5000,
        rate_per_minute=1_000_000 / 1440,
        seed=9,
        flat=True,
    )
    for number, event in enumerate(Simulation(traffic, now - int(hours * 3600 * US)).run(now)):
        if number == count:
            return
        yield event


def wait_for(port: int, done: object, timeout: float, what: str) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sums = metric_sums(port, WATCHED)
        if sums and done(sums):  # type: ignore[operator]
            return sums
        time.sleep(1.0)  # each scrape costs the worker a snapshot: do not starve it
    raise SystemExit(f"{what} did not happen in {timeout:.0f} s")


async def read_changelogs(bootstrap: str, app_id: str) -> tuple[int, float]:
    """Records in the app's changelog topics, and the seconds a bare consumer takes to read them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topics = [t for t in await admin.list_topics() if t.startswith(app_id) and t.endswith("-changelog")]
    await admin.close()
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=f"r-{uuid.uuid4()}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = list(consumer.assignment()) or await _assigned(consumer)
        ends = await consumer.end_offsets(partitions)
        seen, started = 0, time.monotonic()
        # read until every partition's end: offsets count compacted-away records and transaction
        # markers too, so a count of records read may never reach end - beginning
        while await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        return seen, time.monotonic() - started
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> bool:
    """Whether some partition's position is short of its end offset."""
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def _assigned(consumer: AIOKafkaConsumer) -> list[object]:
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    return list(consumer.assignment())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tree", type=Path, default=REPO, help="run another checkout's worker")
    args = parser.parse_args(argv)
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka-recovery", port=free_port())
    app_id = f"recovery-{uuid.uuid4().hex[:6]}"
    try:
        started = time.monotonic()
        stop(start_worker(broker.bootstrap, free_port(), f"empty-{uuid.uuid4().hex[:6]}", tree=args.tree))
        empty_start = time.monotonic() - started
        events = list(history(args.events))
        print(f"publishing {len(events):,} events ...", flush=True)
        asyncio.run(publish(broker.bootstrap, events))
        port = free_port()
        first = start_worker(broker.bootstrap, port, app_id, tree=args.tree)
        started = time.monotonic()
        before = wait_for(
            port,
            lambda s: (
                s["callcenter_events_total"] >= len(events) and s["callcenter_consumer_lag_messages"] == 0
            ),
            7200,
            "processing",
        )
        took = time.monotonic() - started
        print(f"first worker processed them in {took:.0f} s; resident {rss_mb(first.pid):.0f} MB")
        stop(first)
        started = time.monotonic()
        second = start_worker(broker.bootstrap, port, app_id, wait=False, tree=args.tree)
        offered = before.get("callcenter_calls_offered_total")
        if offered is None:
            raise SystemExit(f"no calls offered on the first worker's /metrics: {before}")
        wait_for(
            port,
            lambda s: (
                s["callcenter_calls_offered_total"] == offered and s["callcenter_consumer_lag_messages"] == 0
            ),
            600,
            "recovery",
        )
        restart = time.monotonic() - started
        print(f"restarted worker resident: {rss_mb(second.pid):.0f} MB")
        stop(second)
        messages, bare = asyncio.run(read_changelogs(broker.bootstrap, app_id))
        print(f"restart to live (same all-time counts, no lag): {restart:6.1f} s   (target: under 30 s)")
        print(f"a worker starting over nothing, to serving:    {empty_start:6.1f} s")
        print(f"bare consumer reading the {messages:,} changelog messages: {bare:6.1f} s")
        print(f"restart / bare changelog read: {restart / bare:.1f}x")
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
