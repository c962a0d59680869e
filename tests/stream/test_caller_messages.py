"""The callers topic's messages, and the queue side of verdicts, as the worker sends them."""

from __future__ import annotations

import itertools

import orjson

from metrics.callers import CallerHasher, CallerHistory, CallerMark, Verdict
from metrics.settings import Settings
from metrics.steps.callers import CallerStep
from metrics.steps.clock import FixedClock
from metrics.steps.messages import QueueUpdate
from metrics.steps.queues import QueueStep
from metrics.storage.cold import InMemoryCold
from metrics.storage.cold_entities import ColdCallers
from metrics.storage.packing import COLD_AFTER_US
from metrics.timeutil import US, parse_rfc3339_us
from metrics.visits import Visit
from stream.caller_messages import decode_marks, encode_marks
from stream.queue_messages import MAX_QUEUE_MESSAGE_BYTES, decode_update, encode_update

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
HASHER = CallerHasher(b"worker tests")


def mark(call: str, at_us: int, caller: str = "+15550100", queue: str = "sales") -> CallerMark:
    found = HASHER.mark(caller, call, queue, at_us)
    assert found is not None
    return found


def test_marks_travel_as_json_and_a_big_batch_is_split_into_parts_that_add_up() -> None:
    marks = [mark(f"c{n:05d}" + "x" * 200, NOW + n, caller=f"+1555{n:07d}") for n in range(3000)]
    parts = encode_marks(marks)
    assert len(parts) > 1 and all(len(part) <= MAX_QUEUE_MESSAGE_BYTES for part in parts)
    assert [m for part in parts for m in decode_marks(part)] == marks
    assert b"+1555" not in b"".join(parts)  # only hashes travel


def test_verdicts_travel_to_the_queues_as_json() -> None:
    update = QueueUpdate("sales", "verdicts", [Verdict("c1", NOW, True), Verdict("c2", NOW + 1, False)])
    (message,) = encode_update(update)
    assert decode_update("sales", message) == update


def test_a_queue_takes_verdicts_and_visits_in_any_order_and_keeps_the_earliest_verdict() -> None:
    visit = Visit("c1", "sales", NOW + 60 * US, queued_us=NOW, outcome="answered", outcome_us=NOW + 60 * US)
    told = [
        QueueUpdate("sales", "visits", [visit]),
        QueueUpdate("sales", "verdicts", [Verdict("c1", NOW + US, False)]),  # a later mark, not a repeat
        QueueUpdate("sales", "verdicts", [Verdict("c1", NOW, True)]),  # the earliest: a repeat
    ]
    snapshots = set()
    for order in itertools.permutations(told):
        queues = QueueStep(Settings())
        for update in order:
            queues.apply(update, 0)
        (sales,) = queues.snapshot(NOW + 120 * US)
        snapshots.add(
            (sales.total.identified_calls, sales.total.repeat_calls, sales.total[0], sales.total[1])
        )
        assert queues.states["sales"].visits["c1"].identified == (NOW, True)
    assert snapshots == {(1, 1, 1, 1)}


def test_a_quiet_caller_is_packed_to_disk_and_a_later_call_finds_it_there() -> None:
    step, hot = CallerStep(Settings()), dict[str, CallerHistory]()
    cold = ColdCallers(InMemoryCold(), step.keep_us)
    reading = FixedClock(NOW).reading()
    first = step.fold([(mark("c1", NOW), None)], cold.behind(hot), reading)
    hot.update((caller, history) for caller, (history, _) in first.writes.items())
    (caller,) = hot
    assert cold.pack_quiet(hot, [caller], 0, NOW + COLD_AFTER_US + 1) == [caller] and hot == {}
    later = step.fold(
        [(mark("c2", NOW + 3600 * US), None)], cold.behind(hot), FixedClock(NOW + 3600 * US).reading()
    )
    assert [(u.queue, u.states) for u in later.updates] == [("sales", [Verdict("c2", NOW + 3600 * US, True)])]
    data = cold.store.get(caller)
    assert data is not None and cold.expiry(caller, data) == NOW + step.keep_us
    assert orjson.loads(orjson.dumps(later.writes[caller][0].to_json()))[0] == caller
