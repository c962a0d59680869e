"""Messages as large as Kafka takes, in shapes that grow when escaped: none stops the worker.

Each poison message is followed by valid events, which must all be counted: live equals
replay of the valid events alone, and every poison message has a small rejection record.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stream.rejection_record import MAX_RECORD_BYTES
from tests.integration.conftest import Tenant, consume, create_topic, wait_for
from tests.integration.histories import PIPELINE_ONLY, converges_to_replay, simulated_lines, write

pytestmark = pytest.mark.kafka
BROKER_LIMIT = 1_048_588  # Kafka's default message.max.bytes, which the test broker keeps
NEAR_LIMIT = BROKER_LIMIT - 2048  # room for the record batch's own bytes and the key


def huge_unknown_field(size: int) -> bytes:
    event = orjson.loads(simulated_lines(minutes=1, seed=60)[0])
    event["data"]["note"] = ""
    return orjson.dumps(event).replace(b'"note":""', b'"note":"' + b"x" * (size - 300) + b'"')


POISON = {
    "control characters, 180 KB": b"\x01" * 180_000,
    "control characters": b"\x01" * NEAR_LIMIT,
    "quotes": b'"' * NEAR_LIMIT,
    "backslashes": b"\\" * NEAR_LIMIT,
    "invalid UTF-8": b"\xff" * NEAR_LIMIT,
    "deep nesting": b"[" * NEAR_LIMIT,
    "a valid event with a huge unknown field": huge_unknown_field(NEAR_LIMIT),
}


def key_of(line: bytes) -> bytes:
    data = orjson.loads(line)["data"]
    return str(data.get("call_id") or data["agent_id"]).encode()


def topic_of(tenant: Tenant, line: bytes) -> str:
    kind = orjson.loads(line)["type"]
    return f"{tenant.prefix}callcenter.{'agents' if kind == 'agent.state' else 'calls'}"


def publish_interleaved(tenant: Tenant, valid: list[bytes], poison: list[tuple[bytes | None, bytes]]) -> None:
    """The valid events in order, with one poison message after each equal share of them."""
    share = len(valid) // (len(poison) + 1) + 1

    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=tenant.kafka.bootstrap, max_request_size=2 * BROKER_LIMIT
        )
        await producer.start()
        try:
            for number, start in enumerate(range(0, len(valid), share)):
                for line in valid[start : start + share]:
                    await producer.send(topic_of(tenant, line), line, key=key_of(line))
                if number < len(poison):
                    key, value = poison[number]
                    await producer.send_and_wait(f"{tenant.prefix}callcenter.calls", value, key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def test_poison_messages_up_to_the_broker_limit_leave_every_valid_event_counted(
    tenant: Tenant, tmp_path: Path
) -> None:
    valid = simulated_lines(minutes=15, seed=61)
    no_key = next(line for line in valid if b'"type":"call.' in line)  # its call could land anywhere
    poison: list[tuple[bytes | None, bytes]] = [(b"poison", value) for value in POISON.values()]
    poison.append((None, no_key))
    worker = tenant.start_worker()
    publish_interleaved(tenant, valid, poison)
    converges_to_replay(worker.scrape, [write(tmp_path / "valid.jsonl", valid)], ignore=PIPELINE_ONLY)
    live = worker.scrape()
    rejected = {
        dict(k[1])["reason"]: v for k, v in live.items() if k[0] == "callcenter_events_rejected_total"
    }
    assert rejected == {"too_large": len(POISON), "missing_key": 1}
    records = consume(tenant.kafka, f"{tenant.prefix}callcenter.rejected", len(poison))
    assert len(records) == len(poison) and all(len(value) <= MAX_RECORD_BYTES for _, value in records)
    hashes = {orjson.loads(value)["payload_sha256"] for _, value in records}
    assert hashes == {hashlib.sha256(value).hexdigest() for _, value in poison}
    assert worker.process is not None and worker.process.poll() is None


def test_a_record_kafka_refuses_is_counted_and_skipped_and_the_worker_goes_on(
    tenant: Tenant, tmp_path: Path
) -> None:
    rejected_topic = f"{tenant.prefix}callcenter.rejected"
    create_topic(tenant, rejected_topic, {"max.message.bytes": "2048"})
    valid = simulated_lines(minutes=10, seed=62)
    worker = tenant.start_worker("first")
    # on two partitions: a producer batch of both would be refused whole
    poison, junk = keys_on_different_partitions(4)
    publish_interleaved(tenant, valid, [(poison, b"\x01" * 1000), (junk, b"{not json")])
    history = write(tmp_path / "valid.jsonl", valid)
    converges_to_replay(worker.scrape, [history], ignore=PIPELINE_ONLY)
    failures = ("callcenter_output_failures_total", (("reason", "too_large"), ("topic", rejected_topic)))
    wait_for(lambda: worker.scrape().get(failures) == 1, 30, "the refused rejection record to be counted")
    log = (tenant.workdir / worker.name / "worker.log").read_text()
    assert "Kafka refused a message to" in log and "\x01" not in log
    assert [orjson.loads(v)["reason"] for _, v in consume(tenant.kafka, rejected_topic, 1)] == ["bad_json"]
    worker.stop(signal.SIGKILL)  # offsets were committed past the refused record: no crash loop
    more = [line for line in simulated_lines(minutes=2, seed=63) if b'"agent.state"' not in line]
    publish_interleaved(tenant, more, [])
    restarted = tenant.start_worker("second")
    converges_to_replay(
        restarted.scrape, [history, write(tmp_path / "more.jsonl", more)], ignore=PIPELINE_ONLY
    )


def keys_on_different_partitions(partitions: int) -> tuple[bytes, bytes]:
    every = list(range(partitions))
    first = DefaultPartitioner()(b"poison", every, every)
    other = next(
        k for n in range(100) if DefaultPartitioner()(k := f"junk{n}".encode(), every, every) != first
    )
    return b"poison", other
