"""Event histories for integration tests, and comparing a live worker with ``ccmetrics replay``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaProducer

from metrics.timeutil import US, format_us
from stream.encode import to_json_line
from stream.simulate import Simulation, Traffic
from tests.integration.conftest import CALLER_SECRET, REPO, Samples, Tenant, parse_samples, wait_for

WORKER_HEALTH = {
    "callcenter_consumer_lag_messages",
    "callcenter_events_total",
    "callcenter_events_rejected_total",
}
STAGES = "callcenter_pipeline_stage_seconds"
WORKER_ONLY = {  # replay has no Kafka, and no stages to time
    "callcenter_consumer_lag_messages",
    "callcenter_output_failures_total",
    *(f"{STAGES}{suffix}" for suffix in ("_bucket", "_count", "_sum")),
}
PIPELINE_ONLY = WORKER_ONLY | {
    "callcenter_events_total",
    "callcenter_events_rejected_total",
    "callcenter_events_ignored_total",
    "callcenter_events_duplicate_total",
    "callcenter_event_unknown_fields_total",
    "callcenter_events_by_agent_id_form_total",
    "callcenter_last_event_timestamp_seconds",
}
BAD_LINES = [b"{not json", b'{"specversion": "1.0", "id": "x"}', b"\xff\xfe not utf-8"]


def simulated_lines(minutes: float, seed: int) -> list[bytes]:
    """Events of a simulated call center for the last ``minutes``, with every 7th event sent twice."""
    now = time.time_ns() // 1000
    traffic = Traffic(agents=6, rate_per_minute=25, seed=seed, flat=True)
    lines = [to_json_line(e) for e in Simulation(traffic, now - round(minutes * 60 * US)).run(now)]
    return lines + lines[::7]


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def produce_raw(tenant: Tenant, lines: list[bytes]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=tenant.kafka.bootstrap)
        await producer.start()
        for line in lines:
            await producer.send_and_wait(f"{tenant.prefix}callcenter.calls", line, key=b"junk")
        await producer.stop()

    asyncio.run(run())


def replay(files: list[Path], until_seconds: float) -> Samples:
    until = format_us(round(until_seconds * US))
    command = [sys.executable, "-m", "stream.cli", "replay", *map(str, files), "--until", until]
    env = {**os.environ, "CCMETRICS_CALLER_HASH_SECRET": CALLER_SECRET}  # as the workers'
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return parse_samples(result.stdout)


# The live worker lets superseded agent changes go as it runs (heartbeats would pile up);
# a re-send of one is then applied again, changing nothing, instead of counting as a
# duplicate. Replay keeps every change until its one snapshot. Agent metrics are equal.
AGENT_DEDUP_COUNTERS = {
    ("callcenter_events_total", (("type", "agent.state"),)),
    ("callcenter_events_duplicate_total", ()),
}


def differences(live: Samples, replayed: Samples, ignore: set[str]) -> list[str]:
    keys = {k for k in live.keys() | replayed.keys() if k[0] not in ignore and k not in AGENT_DEDUP_COUNTERS}
    return sorted(
        f"{k}: live {live.get(k)} replay {replayed.get(k)}" for k in keys if live.get(k) != replayed.get(k)
    )


QUEUES_AT = ("callcenter_snapshot_timestamp_seconds", ())
AGENTS_AT = ("callcenter_agent_snapshot_timestamp_seconds", ())


def is_agent_family(name: str) -> bool:
    """The agent-keyed families (``callcenter_agents`` and ``callcenter_agents_away`` are per queue)."""
    return name.startswith("callcenter_agent_")


def only(samples: Samples, agents: bool) -> Samples:
    return {k: v for k, v in samples.items() if is_agent_family(k[0]) == agents}


def converges_to_replay(
    worker_scrape: Callable[[], Samples], files: list[Path], ignore: set[str], timeout: float = 90
) -> None:
    last: list[str] = []

    def equal() -> bool:
        nonlocal last
        live = worker_scrape()
        queues = {k: v for k, v in live.items() if not is_agent_family(k[0])}
        agents = {k: v for k, v in live.items() if is_agent_family(k[0])}
        replayed = replay(files, live[QUEUES_AT])
        last = differences(queues, only(replayed, False), ignore)
        if AGENTS_AT in live:  # the worker reads agents at their own instant
            last += differences(agents, only(replay(files, live[AGENTS_AT]), True), ignore)
        elif only(replayed, True):
            last.append("the worker shows no agent list yet")
        health = [f"worker: {k[0]}{dict(k[1])} = {v}" for k, v in live.items() if k[0] in WORKER_HEALTH]
        last = last and [*health, *last]
        return not last

    try:
        wait_for(equal, timeout, "live metrics to equal the replay", every=1.0)
    except AssertionError:
        raise AssertionError("\n".join(last[:40])) from None
