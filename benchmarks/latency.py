"""Latency: publish to visible on /metrics, at a steady rate, against a bare consumer.

Usage (``make bench`` runs it)::

    python -m benchmarks.latency [--rate 2000] [--seconds 60] [--no-half-core] [--tree OTHER_BUILD]

One local broker and one worker. A producer publishes ``call.queued`` events of new calls
(20 queues, event time = now) at the rate, each timed when sent. Two observers run at the
same time: a bare aiokafka consumer (the baseline: publish to consumed) and a poller reading
the worker's ``callcenter_calls_offered_total`` every 50 ms (publish to visible). The n-th
event counts as visible when the total reaches n, which holds when events are seen in order;
across partitions it is close.

It runs twice, each time on a fresh worker: at ``--rate``, then at the rate where it would use
half a core (its CPU share in the first run, read from ``/proc``, scaled), so that the second
figure means the same on a fast and a slow machine. Each run prints the bare consumer's
latency beside the worker's and whether the targets (p50 under 250 ms, p99 under 1 s) are
met; then where the worker's batches waited, stage by stage.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from benchmarks.kafka_throughput import PREFIX, RUN, cpu_seconds, start_worker, stop
from benchmarks.scrape import metric_sums, stage_summary
from metrics.contract.events import Event
from stream.deploy import Deployment
from stream.kafka_out import EventProducer
from tools.kafka_local import REPO, LocalKafka, free_port

OFFERED = "callcenter_calls_offered_total"
TARGET_P50_MS, TARGET_P99_MS = 250, 1000


@dataclass
class Timeline:
    sent: list[float] = field(default_factory=list)  # monotonic time of the n-th send
    seen: list[tuple[float, int]] = field(default_factory=list)  # (time, how many seen by then)
    done_sending: bool = False

    def all_seen(self, seen: int) -> bool:
        return self.done_sending and seen >= len(self.sent)

    def latencies(self) -> list[float]:
        counts = [count for _, count in self.seen]
        found = []
        for n, sent_at in enumerate(self.sent, start=1):
            index = bisect.bisect_left(counts, n)
            if index < len(counts):
                found.append(self.seen[index][0] - sent_at)
        return sorted(found)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


async def produce(
    bootstrap: str, rate: float, seconds: float, timeline: Timeline, prefix: str = PREFIX
) -> None:
    run = uuid.uuid4().hex[:6]
    async with EventProducer(Deployment(kafka_servers=bootstrap, topic_prefix=prefix)) as producer:
        started, sent = time.monotonic(), 0
        while (elapsed := time.monotonic() - started) < seconds:
            for _ in range(int(elapsed * rate) - sent):
                now_us = time.time_ns() // 1000
                call = f"{run}-{sent}"
                event = Event(
                    f"{call}-q", "call.queued", now_us, "bench", call_id=call, queue=f"q{sent % 20}"
                )
                await producer.send_event(event)
                timeline.sent.append(time.monotonic())
                sent += 1
            await asyncio.sleep(0.005)


async def consume_bare(bootstrap: str, sending: Timeline, timeline: Timeline, prefix: str = PREFIX) -> None:
    consumer = AIOKafkaConsumer(
        prefix + "callcenter.calls",
        bootstrap_servers=bootstrap,
        group_id=f"lat-{uuid.uuid4()}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        seen = 0
        while not sending.all_seen(seen):
            batches = await consumer.getmany(timeout_ms=100)
            seen += sum(len(records) for records in batches.values())
            timeline.seen.append((time.monotonic(), seen))
    finally:
        await consumer.stop()


async def poll_worker(port: int, base: float, timeline: Timeline, until: float) -> None:
    while time.monotonic() < until:
        sums = await asyncio.to_thread(metric_sums, port, (OFFERED,))
        seen = int(sums.get(OFFERED, 0.0) - base)
        timeline.seen.append((time.monotonic(), seen))
        if timeline.all_seen(seen):
            return
        await asyncio.sleep(0.05)


async def measure(
    bootstrap: str, port: int, rate: float, seconds: float, prefix: str = PREFIX
) -> tuple[Timeline, Timeline]:
    bare, worker = Timeline(), Timeline()
    base = (await asyncio.to_thread(metric_sums, port, (OFFERED,))).get(OFFERED, 0.0)
    consumer = asyncio.create_task(consume_bare(bootstrap, worker, bare, prefix))
    await asyncio.sleep(3)  # the bare consumer joins its group before anything is sent
    poller = asyncio.create_task(poll_worker(port, base, worker, time.monotonic() + seconds + 60))
    await produce(bootstrap, rate, seconds, worker, prefix)
    worker.done_sending = True
    bare.sent = worker.sent
    await asyncio.wait_for(consumer, 60)
    await poller
    return bare, worker


@dataclass
class Run:
    """One measurement: the rate asked, the rate sent, the worker's CPU share, both timelines."""

    rate: float
    achieved: float
    cpu_share: float  # of one core, while events were sent
    bare: Timeline
    ours: Timeline


def measured(bootstrap: str, port: int, pid: int, rate: float, seconds: float, prefix: str = PREFIX) -> Run:
    cpu, started = cpu_seconds(pid), time.monotonic()
    bare, ours = asyncio.run(measure(bootstrap, port, rate, seconds, prefix))
    share = (cpu_seconds(pid) - cpu) / (time.monotonic() - started)
    achieved = len(ours.sent) / (ours.sent[-1] - ours.sent[0])
    return Run(rate, achieved, share, bare, ours)


def report(run: Run, what: str, stages: list[str]) -> bool:
    """Print one run's rows and where its batches waited; whether the worker met both targets."""
    share = f"the worker used {run.cpu_share:.0%} of a core"
    print(f"{what}: {len(run.ours.sent):,} events at {run.achieved:,.0f}/s; {share}")
    print(f"{'':36}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = {"bare consumer: published to read": run.bare, "worker: published to /metrics": run.ours}
    figures = {}
    for name, timeline in rows.items():
        found = timeline.latencies()
        if len(found) < len(timeline.sent):
            print(f"{name}: only {len(found):,} of {len(timeline.sent):,} seen")
            return False
        figures[name] = (percentile(found, 0.5) * 1e3, percentile(found, 0.99) * 1e3)
        print(f"{name:36}{figures[name][0]:>9.0f}{figures[name][1]:>9.0f}{found[-1] * 1e3:>9.0f}")
    p50, p99 = figures["worker: published to /metrics"]
    met = p50 < TARGET_P50_MS and p99 < TARGET_P99_MS
    verdict = "met" if met else "MISSED"
    print(f"target: p50 under {TARGET_P50_MS} ms and p99 under {TARGET_P99_MS:,} ms: {verdict}")
    print("the worker's stages (callcenter_pipeline_stage_seconds):", *stages, sep="\n")
    return met


def on_a_fresh_worker(bootstrap: str, rate: float, seconds: float, tree: Path) -> tuple[Run, list[str]]:
    """One run on a worker (``tree``'s) and topics of its own (nothing of another run); its
    stages after."""
    port, prefix = free_port(), f"lat{uuid.uuid4().hex[:6]}."
    worker = start_worker(bootstrap, port, prefix=prefix, tree=tree)
    try:
        return measured(bootstrap, port, worker.pid, rate, seconds, prefix), stage_summary(port)
    finally:
        stop(worker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-half-core", action="store_true", help="only the run at --rate")
    parser.add_argument(
        "--tree", type=Path, default=REPO, help="another build's worker (make bench: compiled)"
    )
    args = parser.parse_args(argv)
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka-latency", port=free_port())
    try:
        first, stages = on_a_fresh_worker(broker.bootstrap, args.rate, args.seconds, args.tree)
        report(first, f"at {args.rate:,.0f} events/s", stages)
        if not args.no_half_core:
            # the worker's CPU grows with the rate: where it would use half a core, on this machine
            half = args.rate * 0.5 / max(first.cpu_share, 0.01)
            second, stages = on_a_fresh_worker(broker.bootstrap, half, args.seconds, args.tree)
            report(second, f"at the half-core rate ({half:,.0f} events/s)", stages)
        return 0  # a miss is printed, as every benchmark of make bench prints its own
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
