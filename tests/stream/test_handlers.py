"""A fetched batch through intake and a step, as the worker's handlers run it, without faust."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.steps.clock import FixedClock
from metrics.steps.entities import AgentStep, CallStep, EntityStep
from metrics.steps.queues import QueueStep
from metrics.storage.cold import HotThenCold, InMemoryCold, Lookup
from metrics.storage.cold_entities import ColdCalls
from metrics.storage.packing import COLD_AFTER_US, pack_visit, unpack_call
from metrics.timeutil import US, parse_rfc3339_us
from stream.encode import to_json_line
from stream.intake import Intake, Record, rejected_record
from stream.queue_messages import MAX_QUEUE_MESSAGE_BYTES, decode_update, encode_update
from tests.helpers import ev

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
ORIGIN = {"topic": "callcenter.calls", "partition": 0, "offset": 7}


class Outgoing(NamedTuple):
    destination: str  # "rejected" or "queues"
    key: bytes | None
    value: bytes


def record(key: bytes | None, raw: bytes, partition: int = 0, offset: int = 7) -> Record:
    return ConsumerRecord("callcenter.calls", partition, offset, 0, 0, key, raw, None, 0, 0, ())


def handle_batch(step: EntityStep[Any], records: list[Record], table: Lookup[Any], now_us: int) -> Any:
    """As a handler does: intake, the step at a clock stopped at ``now_us``; the output and messages."""
    arrivals, rejected = Intake(step.kinds, step.what, step.stats).take(records)
    output = step.fold(arrivals, table, FixedClock(now_us).reading())
    rejected += [rejected_record(rejection, token) for token, rejection in output.rejected]
    sent = [Outgoing("rejected", r.key, r.value) for r in rejected]
    sent += [Outgoing("queues", u.queue.encode(), v) for u in output.updates for v in encode_update(u)]
    return output, sent


def handle(
    step: EntityStep[Any], key: bytes | None, raw: bytes, table: Any, now_us: int, origin: dict[str, Any]
) -> list[Outgoing]:
    """One message through a step, its state stored in ``table`` (the hot one); what it sends."""
    output, sent = handle_batch(
        step, [record(key, raw, origin["partition"], origin["offset"])], table, now_us
    )
    hot = table.hot if isinstance(table, HotThenCold) else table
    hot.update({entity: state for entity, (state, _) in output.writes.items()})
    return sent


def apply(queues: QueueStep, queue: str, partition: int, value: bytes) -> list[tuple[str, Any]]:
    return queues.apply(decode_update(queue, value), partition)


@pytest.fixture
def calls() -> CallStep:
    return CallStep(Settings(), PipelineStats())


def test_a_call_event_updates_the_record_and_sends_the_visit(calls: CallStep) -> None:
    records: dict[str, CallRecord] = {}
    event = ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="sales")
    out = handle(calls, b"c1", to_json_line(event), records, NOW, ORIGIN)
    assert [(o.destination, o.key) for o in out] == [("queues", b"sales")]
    assert orjson.loads(out[0].value)[0] == "visits" and "c1" in records


def test_a_duplicate_is_counted_and_its_visits_sent_again(calls: CallStep) -> None:
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
    calls: CallStep, key: bytes | None, event: object, reason: str
) -> None:
    out = handle(calls, key, to_json_line(event), {}, NOW, ORIGIN)
    assert [o.destination for o in out] == ["rejected"]
    rejected = orjson.loads(out[0].value)
    assert (rejected["reason"], rejected["offset"]) == (reason, 7)
    assert calls.stats.rejected_by_reason == {reason: 1}


def test_a_huge_or_binary_payload_is_rejected_and_kept(calls: CallStep) -> None:
    huge = handle(calls, b"c1", b"{" + b" " * 1_000_000 + b"}", {}, NOW, ORIGIN)
    binary = handle(calls, b"c1", b"\xff\x00\xfe", {}, NOW, ORIGIN)
    assert orjson.loads(huge[0].value)["reason"] == "too_large"
    assert orjson.loads(binary[0].value)["payload_base64"] == "/wD+"


def test_an_agent_is_sent_to_every_queue_it_served() -> None:
    agents = AgentStep(Settings(), PipelineStats())
    histories: dict[str, object] = {}
    first = ev(
        "agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="available", queues=("sales", "vip")
    )
    moved = ev("agent.state", "2026-01-05T09:30:00Z", agent_id="a1", state="available", queues=("support",))
    handle(agents, b"a1", to_json_line(first), histories, NOW, ORIGIN)
    out = handle(agents, b"a1", to_json_line(moved), histories, NOW, ORIGIN)
    assert [o.key for o in out] == [b"sales", b"support", b"vip"]  # old queues must hear it left


def test_queue_updates_are_idempotent_and_revoked_partitions_dropped(calls: CallStep) -> None:
    records: dict[str, CallRecord] = {}
    queued = ev("call.queued", "2026-01-05T09:59:00Z", call_id="c1", queue="sales")
    message = handle(calls, b"c1", to_json_line(queued), records, NOW, ORIGIN)[0]
    registry = QueueStep(Settings())
    apply(registry, "sales", 2, message.value)
    once = registry.snapshot(NOW)
    apply(registry, "sales", 2, message.value)
    assert registry.snapshot(NOW + US)[0].windows == once[0].windows
    registry.keep_partitions({0, 1})
    assert registry.snapshot(NOW + 2 * US) == ()


def test_a_rebuilt_registry_counts_visits_let_go_through_their_settled_sums(calls: CallStep) -> None:
    records: dict[str, CallRecord] = {}
    registry, table = QueueStep(Settings()), {}
    for number, queued in enumerate(["2026-01-05T00:10:00Z", "2026-01-05T09:58:00Z", "2026-01-05T04:00:00Z"]):
        event = ev("call.queued", queued, call_id=f"c{number}", queue="sales")
        arrival = event.time_us + US
        for message in handle(calls, f"c{number}".encode(), to_json_line(event), records, arrival, ORIGIN):
            table.update(apply(registry, "sales", 2, message.value))
    registry.snapshot(NOW)
    expired, packed = registry.expire(2, NOW), registry.pack(2, NOW)
    assert expired.visits == ["sales\x1fc0"] and set(expired.settled) == {"sales"}
    assert packed == ["sales\x1fc1", "sales\x1fc2"]  # quiet for over a minute
    assert dict(registry.cold.store.items()) == {key: pack_visit(table[key]) for key in packed}
    for key in expired.visits + packed:  # as the worker does
        del table[key]
    rebuilt = QueueStep(Settings(), registry.cold)
    stored = {
        q: Settled.from_json(orjson.loads(orjson.dumps(s.to_json()))) for q, s in expired.settled.items()
    }
    rebuilt.rebuild(list(table.items()), list(registry.cold.items()), list(stored.items()), {"sales": 2}, NOW)
    # windows start at now: no bucket is made for what no window can hold any more (c2)
    kept = [
        (q.sums._buckets.keys(), q.sums._past.times())
        for q in (rebuilt.states["sales"], registry.states["sales"])
    ]
    assert kept[0] == kept[1]
    assert rebuilt.snapshot(NOW) == registry.snapshot(NOW)
    assert rebuilt.snapshot(NOW)[0].windows["today"].sums[0] == 3  # all three offered today
    assert rebuilt.states["sales"].visits == {}  # still cold
    later = NOW + rebuilt.states["sales"].keep_visit_us
    assert sorted(rebuilt.expire(2, later).visits) == packed and len(rebuilt.cold) == 0


def test_a_batch_stores_each_call_once_and_sends_each_queue_one_message(calls: CallStep) -> None:
    lines = [
        to_json_line(ev("call.queued", "2026-01-05T09:58:00Z", call_id="c1", queue="sales")),
        to_json_line(ev("call.queued", "2026-01-05T09:58:30Z", call_id="c2", queue="sales")),
        to_json_line(ev("call.answered", "2026-01-05T09:59:00Z", call_id="c1", queue="sales", agent_id="a1")),
        b"not json",
    ]
    keys = [b"c1", b"c2", b"c1", None]
    records = [record(key, line, offset=n) for n, (key, line) in enumerate(zip(keys, lines, strict=True))]
    output, sent = handle_batch(calls, records, {}, NOW)
    assert {c: token.offset for c, (_, token) in output.writes.items()} == {"c1": 2, "c2": 1}
    assert [(o.destination, o.key) for o in sent] == [("rejected", None), ("queues", b"sales")]
    one_by_one, stored = QueueStep(Settings()), {}
    for key, line in zip(keys[:3], lines[:3], strict=True):
        for message in handle(calls, key, line, stored, NOW, ORIGIN):
            apply(one_by_one, "sales", 0, message.value)
    batched = QueueStep(Settings())
    apply(batched, "sales", 0, sent[1].value)
    assert batched.snapshot(NOW) == one_by_one.snapshot(NOW)


def test_silent_calls_and_agents_are_let_go_after_their_forget_ages(calls: CallStep) -> None:
    agents = AgentStep(Settings(), PipelineStats())  # forgets agents after 24 h, calls after 8 h
    histories: dict[str, AgentHistory] = {}
    for agent, at in (("gone", "2026-01-04T09:59:59Z"), ("here", "2026-01-04T10:00:01Z")):
        event = ev("agent.state", at, agent_id=agent, state="available", queues=("sales",))
        handle(agents, agent.encode(), to_json_line(event), histories, event.time_us, ORIGIN)
    assert agents.expired(histories, ["gone", "here", "never-seen"], NOW) == ["gone"]
    records: dict[str, CallRecord] = {}
    for call, at in (("old", "2026-01-05T01:59:59Z"), ("new", "2026-01-05T02:00:01Z")):
        event = ev("call.queued", at, call_id=call, queue="sales")
        handle(calls, call.encode(), to_json_line(event), records, event.time_us, ORIGIN)
    assert calls.expired(records, ["old", "new"], NOW) == ["old"]


def test_a_quiet_call_is_packed_and_goes_on_as_if_it_never_was(calls: CallStep) -> None:
    queued = ev("call.queued", "2026-01-05T09:50:00Z", call_id="c1", queue="sales")
    answered = ev("call.answered", "2026-01-05T09:59:00Z", call_id="c1", queue="sales", agent_id="a1")
    hot: dict[str, CallRecord] = {}
    plain: dict[str, CallRecord] = {}
    for table in (hot, plain):
        handle(calls, b"c1", to_json_line(queued), table, NOW, ORIGIN)
    cold = ColdCalls(InMemoryCold(), calls.expire_after_us)
    assert cold.pack_quiet(dict(plain), ["c1"], 0, queued.time_us + COLD_AFTER_US) == []
    assert calls.expired(hot, ["c1"], NOW) == []
    assert cold.pack_quiet(hot, ["c1"], 0, NOW) == ["c1"] and hot == {}  # moved out of the hot table
    data = cold.store.get("c1")
    assert data is not None and unpack_call("c1", data).event_ids == plain["c1"].event_ids
    expires = queued.time_us + Settings().limits.expire_call_after_us
    assert cold.expiry("c1", data) == expires and cold.store.expire(0, expires + 1) == [("c1", data)]
    cold.store.put(0, [("c1", expires, data)])
    both = cold.behind(hot)
    for event in (queued, answered):  # a duplicate (nothing to store), then a new event
        assert handle(calls, b"c1", to_json_line(event), both, NOW, ORIGIN) == handle(
            calls, b"c1", to_json_line(event), plain, NOW, ORIGIN
        )


def test_a_queue_message_too_large_for_kafka_is_split_into_parts_that_add_up(calls: CallStep) -> None:
    lines = [
        to_json_line(
            ev("call.queued", "2026-01-05T09:58:00Z", call_id=f"c{n:05d}" + "x" * 200, queue="sales")
        )
        for n in range(3000)
    ]
    records = [record(orjson.loads(line)["data"]["call_id"].encode(), line) for line in lines]
    parts = handle_batch(calls, records, {}, NOW)[1]
    assert len(parts) > 1 and all(len(p.value) <= MAX_QUEUE_MESSAGE_BYTES for p in parts)
    whole, split = QueueStep(Settings()), QueueStep(Settings())
    apply(whole, "sales", 0, orjson.dumps(["visits", [v for p in parts for v in orjson.loads(p.value)[1]]]))
    for part in parts:
        apply(split, "sales", 0, part.value)
    assert split.snapshot(NOW) == whole.snapshot(NOW) and split.snapshot(NOW)[0].waiting == 3000
