"""Event histories for integration tests: simulated traffic ending now, and bad input."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from metrics.timeutil import US
from stream.encode import to_json_line
from stream.simulate import Simulation, Traffic
from tests.integration.conftest import Tenant

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
