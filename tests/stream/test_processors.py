"""The per-message steps of the worker, without faust or Kafka."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.cold import HotThenCold, InMemoryCold
from metrics.packing import COLD_AFTER_US
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.timeutil import US, parse_rfc3339_us
from stream.encode import to_json_line
from stream.processors import (
    MAX_QUEUE_MESSAGE_BYTES,
    AgentProcessor,
    CallProcessor,
    Incoming,
    Outgoing,
    QueueRegistry,
)
from tests.helpers import ev

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
ORIGIN = {"topic": "callcenter.calls", "partition": 0, "offset": 7}


def handle(
    step: CallProcessor | AgentProcessor,
    key: bytes | None,
    raw: bytes,
    table: dict[str, Any] | HotThenCold[Any],
    now_us: int,
    origin: dict[str, Any],
) -> list[Outgoing]:
    """One message through a step, its state stored in ``table`` (the hot one); what it sends."""
    batch = step.handle_batch([Incoming(key, raw, origin, None)], table, now_us)
    hot = cast(dict[str, Any], table.hot if isinstance(table, HotThenCold) else table)
    hot.update({entity: state for entity, (state, _) in batch.writes.items()})
    return batch.outgoing


@pytest.fixture
def calls() -> CallProcessor:
    return CallProcessor(Settings(), PipelineStats())


def test_a_call_event_updates_the_record_and_sends_the_visit(calls: CallProcessor) -> None:
    records: dict[str, CallRecord] = {}
    event = ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="sales")
    out = handle(calls, b"c1", to_json_line(event), records, NOW, ORIGIN)
    assert [(o.destination, o.key) for o in out] == [("queues", b"sales")]
    assert orjson.loads(out[0].value)[0] == "visits" and "c1" in records


def test_a_duplicate_is_counted_and_its_visits_sent_again(calls: CallProcessor) -> None:
    records: dict[str, CallRecord] = {}
    line = to_json_line(ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="sales"))
    first = handle(calls, b"c1", line, records, NOW, ORIGIN)
    again = handle(calls, b"c1", line, records, NOW, ORIGIN)
    assert again == first  # a crash may have lost the first send; sending again is harmless
    assert calls.stats.duplicates == 1


@pytest.mark.parametrize(
    ("key", "event", "reason"),
    [
        (b"other", ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="q"), "key_mismatch"),
        (None, ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="q"), "missing_key"),
        (b"a1", ev("agent.state", "2026-01-05T09:59:00Z", agent_id="a1", state="away"), "wrong_topic"),
        (b"c1", ev("call.queued", "2026-01-05T05:59:59Z", call_id="c1", queue="q"), "too_late"),
        (b"c1", ev("call.queued", "2026-01-05T10:05:01Z", call_id="c1", queue="q"), "too_early"),
    ],
)
def test_misrouted_and_mistimed_events_are_rejected(
    calls: CallProcessor, key: bytes | None, event: object, reason: str
) -> None:
    out = handle(calls, key, to_json_line(event), {}, NOW, ORIGIN)
    assert [o.destination for o in out] == ["rejected"]
    rejected = orjson.loads(out[0].value)
    assert (rejected["reason"], rejected["offset"]) == (reason, 7)
    assert calls.stats.rejected_by_reason == {reason: 1}


def test_a_huge_or_binary_payload_is_rejected_and_kept(calls: CallProcessor) -> None:
    huge = handle(calls, b"c1", b"{" + b" " * 1_000_000 + b"}", {}, NOW, ORIGIN)
    binary = handle(calls, b"c1", b"\xff\x00\xfe", {}, NOW, ORIGIN)
    assert orjson.loads(huge[0].value)["reason"] == "too_large"
    assert orjson.loads(binary[0].value)["payload_base64"] == "/wD+"


def test_an_agent_is_sent_to_every_queue_it_served() -> None:
    agents = AgentProcessor(Settings(), PipelineStats())
    histories: dict[str, object] = {}
    first = ev(
        "agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="available", queues=("sales", "vip")
    )
    moved = ev("agent.state", "2026-01-05T09:30:00Z", agent_id="a1", state="available", queues=("support",))
    handle(agents, b"a1", to_json_line(first), histories, NOW, ORIGIN)
    out = handle(agents, b"a1", to_json_line(moved), histories, NOW, ORIGIN)
    assert [o.key for o in out] == [b"sales", b"support", b"vip"]  # old queues must hear it left


def test_queue_updates_are_idempotent_and_revoked_partitions_dropped(calls: CallProcessor) -> None:
    records: dict[str, CallRecord] = {}
    queued = ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="sales")
    message = handle(calls, b"c1", to_json_line(queued), records, NOW, ORIGIN)[0]
    registry = QueueRegistry(Settings())
    registry.apply("sales", 2, message.value)
    once = registry.snapshot(NOW)
    registry.apply("sales", 2, message.value)
    assert registry.snapshot(NOW + US)[0].windows == once[0].windows
    registry.keep_partitions({0, 1})
    assert registry.snapshot(NOW + 2 * US) == ()


def test_a_rebuilt_registry_counts_visits_let_go_through_their_settled_sums(calls: CallProcessor) -> None:
    records: dict[str, CallRecord] = {}
    registry, table = QueueRegistry(Settings()), {}
    for number, queued in enumerate(["2026-01-05T00:10:00Z", "2026-01-05T09:58:00Z", "2026-01-05T04:00:00Z"]):
        event = ev("call.queued", queued, call_id=f"c{number}", queue="sales")
        arrival = event.time_us + US
        for message in handle(calls, f"c{number}".encode(), to_json_line(event), records, arrival, ORIGIN):
            table.update(registry.apply("sales", 2, message.value))
    registry.snapshot(NOW)
    tidied = registry.tidy(2, NOW)
    assert tidied.visits_let_go == ["sales\x1fc0"] and set(tidied.settled) == {"sales"}
    assert tidied.visits_cold == ["sales\x1fc1", "sales\x1fc2"]  # quiet for over a minute
    assert dict(registry.cold.items()) == {key: table[key].pack() for key in tidied.visits_cold}
    for key in tidied.visits_let_go + tidied.visits_cold:  # as the worker does
        del table[key]
    rebuilt = QueueRegistry(Settings(), registry.cold)
    stored = {
        q: Settled.from_json(orjson.loads(orjson.dumps(s.to_json()))) for q, s in tidied.settled.items()
    }
    rebuilt.rebuild(list(table.items()), registry.cold.items(), list(stored.items()), {"sales": 2}, NOW)
    # windows start at now: no bucket is made for what no window can hold any more (c2)
    assert rebuilt.states["sales"].sums._buckets.keys() == registry.states["sales"].sums._buckets.keys()
    assert rebuilt.snapshot(NOW) == registry.snapshot(NOW)
    assert rebuilt.snapshot(NOW)[0].windows["today"].sums[0] == 3  # all three offered today
    assert rebuilt.states["sales"].visits == {}  # still cold
    later = NOW + rebuilt.states["sales"].keep_visit_us
    assert sorted(rebuilt.tidy(2, later).visits_let_go) == tidied.visits_cold and len(rebuilt.cold) == 0


def test_a_batch_stores_each_call_once_and_sends_each_queue_one_message(calls: CallProcessor) -> None:
    lines = [
        to_json_line(ev("call.queued", "2026-01-05T09:58:00Z", call_id="c1", queue="sales")),
        to_json_line(ev("call.queued", "2026-01-05T09:58:30Z", call_id="c2", queue="sales")),
        to_json_line(ev("call.answered", "2026-01-05T09:59:00Z", call_id="c1", queue="sales", agent_id="a1")),
        b"not json",
    ]
    keys = [b"c1", b"c2", b"c1", None]
    messages = [Incoming(key, line, ORIGIN, n) for n, (key, line) in enumerate(zip(keys, lines, strict=True))]
    batch = calls.handle_batch(messages, {}, NOW)
    assert {c: token for c, (_, token) in batch.writes.items()} == {"c1": 2, "c2": 1}
    assert [(o.destination, o.key) for o in batch.outgoing] == [("rejected", None), ("queues", b"sales")]
    one_by_one, records = QueueRegistry(Settings()), {}
    for key, line in zip(keys[:3], lines[:3], strict=True):
        for message in handle(calls, key, line, records, NOW, ORIGIN):
            one_by_one.apply("sales", 0, message.value)
    batched = QueueRegistry(Settings())
    batched.apply("sales", 0, batch.outgoing[1].value)
    assert batched.snapshot(NOW) == one_by_one.snapshot(NOW)


def test_silent_calls_and_agents_are_let_go_after_their_forget_ages(calls: CallProcessor) -> None:
    agents = AgentProcessor(Settings(), PipelineStats())  # forgets agents after 24 h, calls after 8 h
    histories: dict[str, AgentHistory] = {}
    for agent, at in (("gone", "2026-01-04T09:59:59Z"), ("here", "2026-01-04T10:00:01Z")):
        event = ev("agent.state", at, agent_id=agent, state="available", queues=("sales",))
        handle(agents, agent.encode(), to_json_line(event), histories, event.time_us, ORIGIN)
    assert agents.tidy(histories, ["gone", "here", "never-seen"], NOW) == (["gone"], [])
    records: dict[str, CallRecord | bytes] = {}
    for call, at in (("old", "2026-01-05T01:59:59Z"), ("new", "2026-01-05T02:00:01Z")):
        event = ev("call.queued", at, call_id=call, queue="sales")
        handle(calls, call.encode(), to_json_line(event), records, event.time_us, ORIGIN)
    assert calls.tidy(records, ["old", "new"], NOW).stale == ["old"]


def test_a_quiet_call_is_packed_and_goes_on_as_if_it_never_was(calls: CallProcessor) -> None:
    queued = ev("call.queued", "2026-01-05T09:50:00Z", call_id="c1", queue="sales")
    answered = ev("call.answered", "2026-01-05T09:59:00Z", call_id="c1", queue="sales", agent_id="a1")
    hot: dict[str, CallRecord | bytes] = {}
    plain: dict[str, CallRecord | bytes] = {}
    for table in (hot, plain):
        handle(calls, b"c1", to_json_line(queued), table, NOW, ORIGIN)
    assert calls.tidy(plain, ["c1"], queued.time_us + COLD_AFTER_US).packed == []
    tidied = calls.tidy(hot, ["c1"], NOW)
    assert tidied.stale == [] and [key for key, _, _ in tidied.packed] == ["c1"]
    (_, expires, data), cold = tidied.packed[0], InMemoryCold()
    assert expires == calls.expiry(data) == queued.time_us + Settings().limits.forget_call_after_us
    cold.put(0, tidied.packed)
    del hot["c1"]  # as the worker moves it
    both = HotThenCold(hot, cold)
    for event in (queued, answered):  # a duplicate (nothing to store), then a new event
        assert handle(calls, b"c1", to_json_line(event), both, NOW, ORIGIN) == handle(
            calls, b"c1", to_json_line(event), plain, NOW, ORIGIN
        )


def test_a_queue_message_too_large_for_kafka_is_split_into_parts_that_add_up(calls: CallProcessor) -> None:
    lines = [
        to_json_line(
            ev("call.queued", "2026-01-05T09:58:00Z", call_id=f"c{n:05d}" + "x" * 200, queue="sales")
        )
        for n in range(3000)
    ]
    messages = [Incoming(orjson.loads(line)["data"]["call_id"].encode(), line, ORIGIN, 0) for line in lines]
    parts = calls.handle_batch(messages, {}, NOW).outgoing
    assert len(parts) > 1 and all(len(p.value) <= MAX_QUEUE_MESSAGE_BYTES for p in parts)
    whole, split = QueueRegistry(Settings()), QueueRegistry(Settings())
    whole.apply("sales", 0, orjson.dumps(["visits", [v for p in parts for v in orjson.loads(p.value)[1]]]))
    for part in parts:
        split.apply("sales", 0, part.value)
    assert split.snapshot(NOW) == whole.snapshot(NOW) and split.snapshot(NOW)[0].waiting == 3000
