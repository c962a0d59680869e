"""What queues and the board read of an agent: its timeline, from the definitions."""

from __future__ import annotations

import sys

import orjson

from metrics.agent_time import timeline_changes, timeline_contributions
from metrics.agent_timeline import PHASES, AgentTimeline, Phase
from metrics.agents import AgentHistory, as_timeline, told_from_json
from metrics.contract.events import Event
from metrics.timeutil import US, parse_rfc3339_us
from tests.helpers import ev

HOUR = 3600 * US
AVAILABLE = Phase("available", None, ("sales",))


def _at(clock: str) -> int:
    return parse_rfc3339_us(f"2026-01-05T{clock}Z")


def _state(clock: str, state: str, **fields: object) -> Event:
    return ev("agent.state", f"2026-01-05T{clock}Z", agent_id="a1", state=state, **fields)


def _timeline(*events: Event, max_age_us: int = HOUR) -> AgentTimeline:
    history = AgentHistory("a1")
    for event in events:
        history.add(event)
    return history.timeline(max_age_us)


def test_the_state_holds_since_its_run_began_and_a_change_of_queues_does_not_restart_it() -> None:
    timeline = _timeline(
        _state("08:00:00", "available", queues=("sales",)),
        _state("08:10:00", "available", queues=("sales", "billing")),
        _state("08:20:00", "away", reason="Lunch"),
    )
    assert timeline.current(_at("08:15:00"), HOUR) == (
        Phase("available", None, ("sales", "billing")),
        _at("08:00:00"),
    )
    assert timeline.current(_at("08:20:00"), HOUR) == (
        Phase("away", "Lunch", ("sales", "billing")),
        _at("08:20:00"),
    )
    assert timeline.current(_at("07:59:59"), HOUR) is None


def test_an_agent_is_gone_one_maximum_age_after_its_last_change_and_starts_afresh() -> None:
    timeline = _timeline(
        _state("08:00:00", "available", queues=("sales",)),
        _state("09:30:00", "available"),  # after a silence: no queue list yet
    )
    assert timeline.current(_at("09:00:00"), HOUR) == (AVAILABLE, _at("08:00:00"))
    assert timeline.current(_at("09:00:00") + 1, HOUR) is None
    assert timeline.current(_at("09:30:00"), HOUR) == (Phase("available", None, ()), _at("09:30:00"))
    assert timeline.next_boundary_us(_at("08:30:00"), HOUR) == _at("09:00:00") + 1
    assert timeline.next_boundary_us(_at("09:10:00"), HOUR) == _at("09:30:00")
    assert timeline.next_boundary_us(_at("07:00:00"), HOUR) == _at("08:00:00")


def test_a_run_begun_in_trimmed_changes_keeps_its_start() -> None:
    history = AgentHistory("a1")
    for event in (
        _state("08:00:00", "away", reason="Training", queues=("sales",)),
        _state("09:00:00", "away", reason="Training"),
        _state("11:00:00", "on_call"),
    ):
        history.add(event)
    history.trim(HOUR, HOUR, 12 * HOUR)
    timeline = history.timeline(12 * HOUR)
    assert list(timeline.starts) == [_at("09:00:00"), _at("11:00:00")]
    assert timeline.current(_at("10:00:00"), 12 * HOUR) == (
        Phase("away", "Training", ("sales",)),
        _at("08:00:00"),
    )


def test_changes_at_one_instant_read_as_the_last_of_them() -> None:
    first = _state("08:00:00", "available", queues=("sales",))
    second = _state("08:00:00", "on_call")
    timeline = _timeline(first, second)
    last = max((first, second), key=lambda event: event.id)  # ties are broken by event id
    assert timeline.current(_at("08:00:00"), HOUR) == (
        Phase(last.state or "", None, ("sales",)),
        _at("08:00:00"),
    )


def test_a_timeline_reads_back_from_its_json_with_its_phases_shared() -> None:
    timeline = _timeline(
        _state("08:00:00", "available", queues=("sales",)),
        _state("08:05:00", "on_call"),
        _state("08:09:00", "available"),
    )
    data = timeline.to_json()
    assert data["said"] == [0, 1, 0] and len(data["phases"]) == 2
    again = told_from_json(orjson.loads(orjson.dumps(data)))
    assert again == timeline and isinstance(again, AgentTimeline)
    assert again.phases[0] is timeline.phases[0] is again.phases[2]


def test_a_history_told_before_timelines_reads_as_the_same_timeline() -> None:
    history = AgentHistory("a1")
    for event in (_state("08:00:00", "available", queues=("sales",)), _state("08:05:00", "on_call")):
        history.add(event)
    row = ["a1", [[c[0], "", c[2], c[3], c[4]] for c in history.changes], ["sales"], [], None, None]
    told = told_from_json(orjson.loads(orjson.dumps(row)))
    assert isinstance(told, AgentHistory)
    assert as_timeline(told, HOUR) == history.timeline(HOUR)


def test_timelines_share_their_phases_and_the_phases_strings() -> None:
    said = "".join(["lun", "ch"])  # a string of its own, as a decoder makes one
    first = AgentTimeline("a1", [1], [Phase("away", said, ("q",))])
    second = AgentTimeline("a2", [2], [Phase("away", "lunch", ("q",))])
    assert first.phases[0] is second.phases[0] is PHASES.share(Phase("away", "lunch", ("q",)))
    assert first.phases[0].reason is sys.intern("lunch")


def _net(contributions: list[tuple[int, int, int]]) -> dict[tuple[int, int], int]:
    net: dict[tuple[int, int], int] = {}
    for at, slot, value in contributions:
        net[at, slot] = net.get((at, slot), 0) + value
    return {key: value for key, value in net.items() if value}


def test_changes_between_timelines_leave_the_sums_of_the_new_one_and_settle_what_was_trimmed() -> None:
    events = [
        _state("08:00:00", "available", queues=("sales",)),
        _state("08:30:00", "on_call"),
        _state("09:00:00", "wrap_up"),
        _state("09:10:00", "available", queues=("billing",)),
    ]
    history = AgentHistory("a1")
    for event in events[:3]:
        history.add(event)
    old = history.timeline(HOUR)
    history.add(events[3])
    history.trim(20 * 60 * US, HOUR, HOUR)  # the 08:00 change is trimmed
    new = history.timeline(HOUR)
    for queue in (None, "sales", "billing"):
        changes = timeline_changes(old, new, HOUR, 0, queue)
        before = timeline_contributions(old, HOUR, 0, queue)
        after = before + [(a, s, -v) for a, s, v in changes.taken_back] + changes.added
        expected = timeline_contributions(new, HOUR, 0, queue) + changes.settled
        assert _net(after) == _net(expected)
        assert {c[0] for c in changes.settled} <= {_at("08:00:00"), _at("08:30:00")}
