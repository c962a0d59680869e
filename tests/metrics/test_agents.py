"""Agent histories know their events' ids, also when rebuilt from their changelog, and tell timelines."""

from __future__ import annotations

import sys
import tracemalloc

import orjson

from metrics.agent_timeline import Phase, Segment
from metrics.agents import AgentHistory
from metrics.contract.events import Event
from metrics.sharing import QUEUE_LISTS
from metrics.timeutil import US, parse_rfc3339_us
from tests.helpers import ev


def _through_changelog(history: AgentHistory) -> AgentHistory:
    return AgentHistory.from_json(orjson.loads(orjson.dumps(history.to_json())))


def test_a_resent_event_is_a_duplicate_before_and_after_a_restart() -> None:
    first = ev("agent.state", "2026-01-05T10:00:00Z", agent_id="a1", state="available", queues=("sales",))
    later = ev("agent.state", "2026-01-05T10:05:00Z", agent_id="a1", state="on_call")
    history = AgentHistory("a1")
    assert history.add(first) and history.add(later)
    assert not history.add(first)
    rebuilt = _through_changelog(history)
    assert not rebuilt.add(first) and not rebuilt.add(later)
    assert rebuilt.changes == history.changes


HOUR = 3600 * US


def test_a_history_read_from_its_changelog_shares_its_states_and_queue_lists() -> None:
    listing = {"agent_id": "a1", "state": "available", "queues": ("sales", "vip")}
    beats = [ev("agent.state", f"2026-01-05T10:0{n}:00Z", **listing) for n in range(3)]
    rebuilt = _through_changelog(_history(*beats))
    listed = {id(change[3]) for change in rebuilt.changes} | {id(QUEUE_LISTS.share(("sales", "vip")))}
    states = {id(change[2]) for change in rebuilt.changes} | {id(sys.intern("available"))}
    assert len(listed) == 1 and len(states) == 1


def _history(*events: Event) -> AgentHistory:
    history = AgentHistory("a1")
    for event in events:
        history.add(event)
    return history


def test_trimming_keeps_the_change_in_effect_and_what_earlier_ones_said() -> None:
    login = ev("agent.state", "2026-01-05T08:00:00Z", agent_id="a1", state="available", queues=("sales",))
    beat = ev("agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="available")
    call = ev("agent.state", "2026-01-05T11:00:00Z", agent_id="a1", state="on_call")
    history = _history(login, beat, call)
    history.trim(HOUR, HOUR, 12 * HOUR)
    # the beat can no longer be placed (older than the newest by over an hour): its id is forgotten
    assert [change[:2] for change in history.changes] == [(beat.time_us, ""), (call.time_us, call.id)]
    assert not history.placeable(beat, HOUR) and not history.add(call)
    assert history.base_queues == ("sales",) and history.base_since_us == login.time_us
    current = history.timeline(12 * HOUR).current(beat.time_us + 1, 12 * HOUR)
    assert current == (Phase("available", None, ("sales",)), login.time_us)


def test_an_event_older_than_the_newest_by_more_than_the_placing_bound_cannot_be_placed() -> None:
    history = _history(
        ev("agent.state", "2026-01-05T08:00:00Z", agent_id="a1", state="available", queues=("sales",)),
        ev("agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="away"),
        ev("agent.state", "2026-01-05T11:00:00Z", agent_id="a1", state="available"),
    )
    for trimmed in (False, True):  # whether the history was trimmed since changes nothing
        if trimmed:
            history.trim(2 * HOUR, HOUR, 12 * HOUR)
        assert not history.placeable(
            ev("agent.state", "2026-01-05T09:30:00Z", agent_id="a1", state="away"), HOUR
        )
        assert history.placeable(ev("agent.state", "2026-01-05T10:00:00Z", agent_id="a1", state="away"), HOUR)


def test_heartbeats_that_change_nothing_are_left_out_and_every_segment_sum_stays() -> None:
    beats = [
        ev("agent.state", f"2026-01-05T08:{m:02d}:00Z", agent_id="a1", state="available", queues=("sales",))
        for m in range(0, 50, 5)
    ]
    history = _history(*beats, ev("agent.state", "2026-01-05T08:52:00Z", agent_id="a1", state="on_call"))
    told = history.timeline(HOUR)
    assert list(told.starts) == [beats[0].time_us, history.changes[-1][0]]
    assert len(history.changes) == 11  # the stored history keeps them: late events may fall between
    found: dict[str, int] = {}
    for s in told.segments(HOUR):
        found[s.state] = found.get(s.state, 0) + s.end_us - s.start_us
    assert found == {"available": 52 * 60 * US, "on_call": HOUR}
    assert told.current(beats[-1].time_us, HOUR) == (Phase("available", None, ("sales",)), beats[0].time_us)


def test_a_heartbeat_that_keeps_an_agent_from_being_gone_stays() -> None:
    history = _history(
        ev("agent.state", "2026-01-05T08:00:00Z", agent_id="a1", state="available", queues=("sales",)),
        ev("agent.state", "2026-01-05T08:50:00Z", agent_id="a1", state="available"),
        ev("agent.state", "2026-01-05T09:30:00Z", agent_id="a1", state="away"),
    )
    assert len(history.timeline(HOUR).starts) == 3  # without 08:50 the agent would be gone at 09:00


def test_segments_end_at_the_next_change_or_when_the_agent_is_gone() -> None:
    history = _history(
        ev("agent.state", "2026-01-05T08:00:00Z", agent_id="a1", state="available", queues=("sales",)),
        ev("agent.state", "2026-01-05T08:10:00Z", agent_id="a1", state="away", reason="Break"),
    )
    start = parse_rfc3339_us("2026-01-05T08:00:00Z")
    assert history.timeline(HOUR).segments(HOUR) == [
        Segment(start, start + 600 * US, "available", None, ("sales",)),
        Segment(start + 600 * US, start + 600 * US + HOUR, "away", "Break", ("sales",)),
    ]


def test_a_history_stored_before_reasons_were_kept_reads_back() -> None:
    row = ["a1", [[5, "e1", "available", ["sales"]]], ["sales"]]
    history = AgentHistory.from_json(row)
    assert history.changes == [(5, "e1", "available", ("sales",), None)]
    assert history.base_since_us is None and _through_changelog(history).changes == history.changes


def test_a_change_that_can_no_longer_be_placed_costs_a_few_machine_words() -> None:
    """Changes are columns sharing what they said, not a tuple each: at four hours, 5,000
    agents keep about a quarter of a million of them."""
    start, count = parse_rfc3339_us("2026-01-05T08:00:00Z"), 4000
    said = [{"state": "available", "queues": ("sales", "vip")}, {"state": "away", "reason": "Break"}]
    events = [
        Event(f"id-{n:06d}", "agent.state", start + n * US, "test", agent_id="a1", **said[n % 2])
        for n in range(count)
    ]  # type: ignore[arg-type]
    history = AgentHistory("a1")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in events:
            history.add(event)
        history.trim(2 * count * US, 0, HOUR)  # nothing dropped; every id forgotten
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(history.changes) == count and {c[1] for c in history.changes} == {"", events[-1].id}
    assert held / count < 40
