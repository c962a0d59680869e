"""Repeat calls, known answers from docs/metrics.md ("Repeat calls")."""

from __future__ import annotations

import itertools

import orjson
import pytest

from metrics.callers import MAX_MARKS, CallerHasher, CallerHistory, CallerMark
from metrics.calls import CallRecord
from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.pipeline import PipelineStats
from metrics.settings import CallerSettings, Settings
from metrics.steps.clock import NOTHING_TO_JUDGE
from metrics.steps.entities import CallStep
from metrics.steps.messages import Arrival
from metrics.storage.packing import pack_caller, pack_visit, unpack_caller, unpack_visit
from metrics.timeutil import US, parse_rfc3339_us
from metrics.visits import Visit

SECRET = b"known answers"
HOUR = 3600 * US
T0 = parse_rfc3339_us("2026-02-02T08:00:00Z")
_ids = itertools.count()


def queued(call: str, queue: str, at_us: int, caller: str | None = "+15550100") -> Event:
    return Event(f"q{next(_ids)}", "call.queued", at_us, "test", call_id=call, queue=queue, caller=caller)


def repeats(events: list[Event], now_us: int, settings: Settings | None = None) -> dict[str, tuple[int, int]]:
    """``{queue: (identified, repeats)}`` of all time, the events applied in the order given."""
    engine = Engine(settings or Settings(), caller_secret=SECRET)
    for event in events:
        engine.apply(event)
    snapshot = engine.snapshot(now_us)
    return {q.queue: (q.total.identified_calls, q.total.repeat_calls) for q in snapshot.queues}


def test_a_second_call_within_72_hours_is_a_repeat_in_its_own_queue() -> None:
    events = [queued("c1", "sales", T0), queued("c2", "support", T0 + 71 * HOUR)]
    assert repeats(events, T0 + 72 * HOUR) == {"sales": (1, 0), "support": (1, 1)}


def test_the_window_includes_its_far_edge_and_not_a_microsecond_beyond() -> None:
    window = CallerSettings().repeat_window_us
    at_edge = [queued("c1", "q", T0), queued("c2", "q", T0 + window)]
    beyond = [queued("c1", "q", T0), queued("c2", "q", T0 + window + 1)]
    assert repeats(at_edge, T0 + window + HOUR) == {"q": (2, 1)}
    assert repeats(beyond, T0 + window + HOUR) == {"q": (2, 0)}


def test_a_repeat_that_arrives_before_its_first_call_turns_into_one_when_that_call_comes() -> None:
    engine = Engine(Settings(), caller_secret=SECRET)
    engine.apply(queued("c2", "support", T0 + HOUR))
    before = engine.snapshot(T0 + 2 * HOUR).queues[0].total
    engine.apply(queued("c1", "sales", T0))  # late, but young enough to be admitted
    after = {
        q.queue: (q.total.identified_calls, q.total.repeat_calls)
        for q in engine.snapshot(T0 + 2 * HOUR).queues
    }
    assert (before.identified_calls, before.repeat_calls) == (1, 0)
    assert after == {"sales": (1, 0), "support": (1, 1)}


def test_every_order_of_the_same_events_gives_the_same_repeats() -> None:
    events = [
        queued("c1", "sales", T0),
        queued("c2", "sales", T0 + HOUR),
        queued("c2", "support", T0 + HOUR + 60 * US),  # transferred: the same call, not a repeat of itself
        queued("c3", "sales", T0 + 2 * HOUR, caller="+15550199"),
        queued("c4", "sales", T0 + 2 * HOUR, caller="+15550199"),  # the same instant: neither is earlier
    ]
    outcomes = {
        tuple(sorted(repeats(list(order), T0 + 3 * HOUR).items())) for order in itertools.permutations(events)
    }
    assert outcomes == {(("sales", (4, 1)), ("support", (1, 1)))}


def test_a_call_queued_twice_in_a_queue_counts_once_at_its_earliest_time() -> None:
    events = [
        queued("c1", "sales", T0),
        queued("c2", "sales", T0 + 3 * HOUR),
        queued("c2", "sales", T0 + 2 * HOUR),  # re-sent with an earlier time: still a repeat
    ]
    engine = Engine(Settings(), caller_secret=SECRET)
    for event in events:
        engine.apply(event)
    sales = engine.snapshot(T0 + 4 * HOUR).queues[0]
    assert (sales.total.identified_calls, sales.total.repeat_calls) == (2, 1)
    assert sales.windows["1h"].identified_calls == 0  # counted at T0 + 2 h, not 3 h


def test_withheld_and_missing_callers_are_not_identified_and_spaces_do_not_make_a_new_caller() -> None:
    events = [
        queued("c1", "q", T0, caller="anonymous"),
        queued("c2", "q", T0 + 1, caller="Anonymous"),
        queued("c3", "q", T0 + 2, caller=None),
        queued("c4", "q", T0 + 3, caller="+15550100"),
        queued("c5", "q", T0 + 4, caller=" +15550100 "),
    ]
    assert repeats(events, T0 + HOUR) == {"q": (2, 1)}


def test_without_a_secret_nothing_about_callers_is_kept() -> None:
    engine = Engine(Settings())
    engine.apply(queued("c1", "q", T0))
    engine.apply(queued("c2", "q", T0 + 1))
    queue = engine.snapshot(T0 + HOUR).queues[0]
    assert engine.callers == {} and queue.total.identified_calls == 0
    assert all(visit.identified is None for visit in engine.queues["q"].visits.values())


def test_the_caller_is_kept_only_as_a_keyed_hash() -> None:
    engine = Engine(Settings(), caller_secret=SECRET)
    engine.apply(queued("c1", "q", T0, caller="+15550100"))
    engine.snapshot(T0 + 1)
    (history,) = engine.callers.values()
    stored = orjson.dumps(history.to_json()) + pack_caller(history)
    assert b"15550100" not in stored
    other = CallerHasher(b"another secret").mark("+15550100", "c1", "q", T0)
    assert other is not None and history.caller != other.caller  # the same caller, another key


def test_a_caller_history_is_forgotten_after_the_window_and_the_disorder_it_allows() -> None:
    engine = Engine(Settings(), caller_secret=SECRET)
    engine.apply(queued("c1", "q", T0))
    keep = engine.caller_step.keep_us
    engine.expire(T0 + keep)
    assert len(engine.callers) == 1
    engine.expire(T0 + keep + 1)
    assert engine.callers == {}


def test_a_caller_calling_more_than_the_cap_keeps_the_newest_calls() -> None:
    history = CallerHistory("h")
    marks = [CallerMark("h", f"c{n}", "q", T0 + n) for n in range(MAX_MARKS + 5)]
    told = history.add(marks, window_us=HOUR)
    assert len(history.entries) == MAX_MARKS and history.entries[0].call_id == "c5"
    assert [verdict.repeat for _, verdict in told] == [False] + [True] * (MAX_MARKS + 4)


@pytest.mark.parametrize("identified", [None, (T0, False), (T0 - HOUR, True)])
def test_a_visit_keeps_what_the_callers_step_said_through_json_and_packing(
    identified: tuple[int, bool] | None,
) -> None:
    visit = Visit("c1", "q", T0 + HOUR, queued_us=T0, identified=identified)
    assert Visit.from_json(orjson.loads(orjson.dumps(visit.to_json()))) == visit
    assert unpack_visit("c1", "q", pack_visit(visit)) == visit


def test_a_caller_history_survives_packing_and_json() -> None:
    history = CallerHistory("h")
    history.add([CallerMark("h", "c1", "q", T0), CallerMark("h", "c2", "r", T0 + HOUR)], window_us=2 * HOUR)
    assert unpack_caller("h", pack_caller(history)) == history
    assert CallerHistory.from_json(orjson.loads(orjson.dumps(history.to_json()))) == history


def test_a_duplicate_call_queued_names_its_caller_again() -> None:
    """A crash between sending a mark and storing the call may lose the mark: a re-sent event
    sends it again (the callers step tells the same verdict, which a queue takes as once)."""
    stats = PipelineStats()
    step, records = CallStep(Settings(), stats, CallerHasher(SECRET)), dict[str, CallRecord]()
    event = queued("c1", "q", T0)
    first = step.fold([Arrival(event, 0, None)], records, NOTHING_TO_JUDGE)
    records.update((key, record) for key, (record, _) in first.writes.items())
    again = step.fold([Arrival(event, 0, None)], records, NOTHING_TO_JUDGE)
    assert stats.duplicates == 1 and len(first.callers) == 1 and again.callers == first.callers
