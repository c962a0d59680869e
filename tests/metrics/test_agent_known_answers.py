"""Agent metrics worked out by hand from docs/metrics.md ("Agents"), through the replay engine."""

from __future__ import annotations

import random

import pytest

from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import AgentSnapshot, QueueSnapshot, Snapshot
from metrics.timeutil import US, parse_rfc3339_us
from stream.exporter.text import render
from tests.helpers import ev

T0 = "2026-01-05T10:00:00Z"


def at(text: str) -> int:
    return parse_rfc3339_us(text)


def state(when: str, agent: str, name: str, **fields: object) -> Event:
    return ev("agent.state", when, agent_id=agent, state=name, **fields)


def run(events: list[Event], now: str, settings: Settings | None = None) -> Snapshot:
    engine = Engine(settings or Settings())
    for event in events:
        engine.apply(event)
    return engine.snapshot(at(now))


def agent_of(snapshot: Snapshot, agent: str) -> AgentSnapshot:
    return next(a for a in snapshot.agents if a.agent == agent)


def queue_of(snapshot: Snapshot, queue: str) -> QueueSnapshot:
    return next(q for q in snapshot.queues if q.queue == queue)


def zeroes(**seconds: float) -> dict[str, float]:
    return {"offline": 0.0, "available": 0.0, "on_call": 0.0, "wrap_up": 0.0, "away": 0.0, **seconds}


SHIFT = [
    state("2026-01-05T09:50:00Z", "a1", "available", queues=("sales",)),
    state("2026-01-05T10:10:00Z", "a1", "on_call"),
    state("2026-01-05T10:20:00Z", "a1", "wrap_up"),
    state("2026-01-05T10:25:00Z", "a1", "away", reason="Break"),
]


def test_a_state_that_began_before_a_window_counts_from_the_windows_start() -> None:
    snapshot = run(SHIFT, "2026-01-05T10:30:00Z")
    sales = queue_of(snapshot, "sales")
    # 15m is (10:15, 10:30]: 5 min on a call, 5 in wrap-up, 5 away
    assert sales.agent_seconds["15m"] == zeroes(on_call=300.0, wrap_up=300.0, away=300.0)
    # 1h is (09:30, 10:30]: 20 min available from 09:50
    assert sales.agent_seconds["1h"] == zeroes(available=1200.0, on_call=600.0, wrap_up=300.0, away=300.0)
    assert sales.occupancy_ratio("15m") == 1.0
    assert sales.occupancy_ratio("1h") == pytest.approx(900 / 2100)
    assert sales.away_by_reason == {"other": 1}


def test_the_agent_list_shows_state_reason_since_and_today() -> None:
    settings = Settings.from_toml('[agents]\nreasons = ["Break"]\nwindows = ["today", "15m"]')
    agent = agent_of(run(SHIFT, "2026-01-05T10:30:00Z", settings), "a1")
    assert (agent.state, agent.reason, agent.since_us, agent.queues) == (
        "away",
        "Break",
        at("2026-01-05T10:25:00Z"),
        ("sales",),
    )
    today = agent.windows["today"]
    assert today.state_seconds == zeroes(available=1200.0, on_call=600.0, wrap_up=300.0, away=300.0)
    assert today.occupancy_ratio == pytest.approx(900 / 2100)
    assert agent.windows["15m"].state_seconds == zeroes(on_call=300.0, wrap_up=300.0, away=300.0)


def test_a_heartbeat_does_not_restart_since_but_a_new_reason_does() -> None:
    events = [
        state("2026-01-05T10:00:00Z", "a1", "away", reason="Break", queues=("sales",)),
        state("2026-01-05T10:05:00Z", "a1", "away", reason="Break"),
        state("2026-01-05T10:10:00Z", "a1", "away", reason="Lunch"),
        state("2026-01-05T10:15:00Z", "a1", "away", reason="Lunch"),
    ]
    assert agent_of(run(events, "2026-01-05T10:20:00Z"), "a1").since_us == at("2026-01-05T10:10:00Z")


def test_today_starts_at_midnight_in_the_agents_time_zone() -> None:
    settings = Settings.from_toml('[agents]\ntimezone = "Asia/Jerusalem"')  # UTC+2 in January
    events = [
        state("2026-01-05T21:00:00Z", "a1", "available", queues=("sales",)),  # 23:00 local
        state("2026-01-05T22:30:00Z", "a1", "on_call"),  # 00:30 local, the next day
    ]
    agent = agent_of(run(events, "2026-01-05T23:00:00Z", settings), "a1")
    assert agent.windows["today"].state_seconds == zeroes(available=1800.0, on_call=1800.0)
    # the queue's today is in its own zone (UTC): all of it
    sales = queue_of(run(events, "2026-01-05T23:00:00Z", settings), "sales")
    assert sales.agent_seconds["today"] == zeroes(available=5400.0, on_call=1800.0)


def test_an_agent_serving_two_queues_counts_fully_in_each() -> None:
    events = [
        state("2026-01-05T10:00:00Z", "a1", "available", queues=("sales", "support")),
        state("2026-01-05T10:06:00Z", "a1", "on_call"),
        state("2026-01-05T10:08:00Z", "a1", "available", queues=("support",)),
    ]
    snapshot = run(events, "2026-01-05T10:10:00Z")
    assert queue_of(snapshot, "sales").agent_seconds["5m"] == zeroes(available=60.0, on_call=120.0)
    assert queue_of(snapshot, "support").agent_seconds["5m"] == zeroes(available=180.0, on_call=120.0)
    assert queue_of(snapshot, "sales").agents["available"] == 0


def test_order_and_duplicates_of_agent_events_do_not_change_any_agent_metric() -> None:
    events = [*SHIFT, *call_events()]
    want = run(events, "2026-01-05T10:30:00Z")
    shuffled = [*events, *events[::2]]
    random.Random(7).shuffle(shuffled)
    got = run(shuffled, "2026-01-05T10:30:00Z")
    assert got.agents == want.agents
    assert [q.agent_seconds for q in got.queues] == [q.agent_seconds for q in want.queues]


def call_events() -> list[Event]:
    return [
        ev("call.queued", "2026-01-05T10:09:00Z", call_id="c1", queue="sales"),
        ev("call.agent_no_answer", "2026-01-05T10:09:20Z", call_id="c1", queue="sales", agent_id="a2"),
        ev("call.agent_no_answer", "2026-01-05T10:09:40Z", call_id="c1", queue="sales", agent_id="a2"),
        ev("call.answered", "2026-01-05T10:10:00Z", call_id="c1", queue="sales", agent_id="a1"),
        ev("call.ended", "2026-01-05T10:20:00Z", call_id="c1", agent_id="a1", wrapup=True),
        ev("call.wrapup_ended", "2026-01-05T10:25:00Z", call_id="c1", agent_id="a1"),
        ev("call.queued", "2026-01-05T10:21:00Z", call_id="c2", queue="sales"),
        ev("call.answered", "2026-01-05T10:21:30Z", call_id="c2", queue="sales", agent_id="a2"),
        ev("call.transferred", "2026-01-05T10:23:00Z", call_id="c2", agent_id="a2", to_queue="billing"),
        ev("call.ended", "2026-01-05T10:23:00Z", call_id="c2", agent_id="a2"),
    ]


def test_handled_calls_handle_time_transfers_and_missed_offers_per_agent() -> None:
    snapshot = run(call_events(), "2026-01-05T10:30:00Z")
    a1, a2 = agent_of(snapshot, "a1").windows["today"], agent_of(snapshot, "a2").windows["today"]
    assert (a1.handled, a1.handle_time_seconds, a1.transferred, a1.missed) == (1, 900.0, 0, 0)
    assert (a2.handled, a2.handle_time_seconds, a2.transferred, a2.missed) == (1, 90.0, 1, 2)
    assert a1.occupancy_ratio is None  # no agent.state: no time in any state


def test_handling_counts_when_it_completes() -> None:
    before = agent_of(run(call_events()[:5], "2026-01-05T10:30:00Z"), "a1").windows["today"]
    assert (before.handled, before.handle_time_seconds) == (0, None)  # wrap-up not over


@pytest.mark.parametrize("batches_end", [False, True])
def test_an_agent_event_older_than_the_changes_kept_is_too_late(batches_end: bool) -> None:
    """Refused by its age against the agent's newest event alone: where a worker's batches
    happen to end (and histories get trimmed) changes nothing, a re-sent event included."""
    settings = Settings.from_toml('[defaults]\nwindows = ["5m"]\n[limits]\nmax_agent_disorder_seconds = 600')
    engine = Engine(settings)
    first = state("2026-01-05T08:00:00Z", "a1", "available", queues=("sales",))
    for event in [
        first,
        state("2026-01-05T09:00:00Z", "a1", "away"),
        state("2026-01-05T10:00:00Z", "a1", "available"),
    ]:
        engine.apply(event)
        if batches_end:
            engine.flush()
    engine.apply(state("2026-01-05T08:30:00Z", "a1", "on_call"))
    engine.apply(first)  # re-sent: older than the newest by over 15 minutes (10 + the clock skew)
    engine.apply(state("2026-01-05T09:50:00Z", "a1", "on_call"))
    snapshot = engine.snapshot(at("2026-01-05T10:00:00Z"))
    assert snapshot.pipeline.rejected_by_reason == {"too_late": 2}
    # 08:00-09:00 available, 09:00-09:50 away, 09:50-10:00 on a call
    seconds = agent_of(snapshot, "a1").windows["today"].state_seconds
    assert seconds == zeroes(available=3600.0, away=3000.0, on_call=600.0)


def test_an_agent_silent_past_the_maximum_age_is_gone_and_its_time_stops() -> None:
    settings = Settings.from_toml("[limits]\nmax_agent_age_seconds = 1800")
    events = [state("2026-01-05T10:00:00Z", "a1", "available", queues=("sales",))]
    snapshot = run(events, "2026-01-05T11:00:00Z", settings)
    agent = agent_of(snapshot, "a1")
    assert (agent.state, agent.since_us) == (None, None)
    assert agent.windows["today"].state_seconds == zeroes(available=1800.0)
    assert queue_of(snapshot, "sales").agent_seconds["1h"] == zeroes(available=1800.0)


def test_agent_export_off_leaves_the_queues_occupancy() -> None:
    snapshot = run(SHIFT, "2026-01-05T10:30:00Z", Settings.from_toml('[agents]\nexport = "off"'))
    assert snapshot.agent_export == "off" and queue_of(snapshot, "sales").occupancy_ratio("15m") == 1.0
    assert b"callcenter_agent_" not in render(snapshot) and b"callcenter_occupancy_ratio{" in render(snapshot)


def test_seconds_are_exact_over_many_windows_edges() -> None:
    changes = ["available", "on_call", "wrap_up", "available", "away", "offline"]
    events = [
        state(f"2026-01-05T{9 + i // 6:02d}:{(i % 6) * 10 + 3:02d}:00Z", "a1", changes[i % 6], queues=("q",))
        for i in range(18)
    ]
    snapshot = run(events, "2026-01-05T11:59:00Z")
    # (10:59, 11:59]: offline 10:59-11:03 and 11:53-11:59, then ten minutes of each other state
    got = queue_of(snapshot, "q").agent_seconds["1h"]
    assert got == {"offline": 600.0, "available": 1200.0, "on_call": 600.0, "wrap_up": 600.0, "away": 600.0}


def test_time_in_state_us_is_exact_to_the_microsecond() -> None:
    start = "2026-01-05T10:00:00.000001Z"
    events = [state(start, "a1", "available", queues=("q",)), state("2026-01-05T10:00:01Z", "a1", "away")]
    seconds = queue_of(run(events, "2026-01-05T10:00:02Z"), "q").agent_seconds["5m"]
    assert seconds["available"] * US == 999_999 and seconds["away"] == 1.0


def test_a_survey_counts_for_the_agent_who_last_answered_or_the_one_it_names() -> None:
    events = [
        ev("call.queued", T0, call_id="c1", queue="sales"),
        ev("call.answered", "2026-01-05T10:00:10Z", call_id="c1", queue="sales", agent_id="a1"),
        ev("call.answered", "2026-01-05T10:02:00Z", call_id="c1", queue="sales", agent_id="a2"),
        ev("call.ended", "2026-01-05T10:05:00Z", call_id="c1", agent_id="a2"),
        ev("survey.completed", "2026-01-05T10:06:00Z", call_id="c1", csat=2, nps=10, ces=4),
        ev("call.queued", T0, call_id="c2", queue="sales"),
        ev("call.answered", "2026-01-05T10:00:10Z", call_id="c2", queue="sales", agent_id="a2"),
        ev("survey.completed", "2026-01-05T10:07:00Z", call_id="c2", csat=5, agent_id="a1"),
    ]
    snapshot = run(events, "2026-01-05T10:10:00Z")
    a1, a2 = agent_of(snapshot, "a1").windows["today"], agent_of(snapshot, "a2").windows["today"]
    assert (a1.csat_ratio, a1.nps_ratio, a1.customer_effort_score) == (1.0, None, None)  # named on c2
    assert (a2.csat_ratio, a2.nps_ratio, a2.customer_effort_score) == (0.0, 1.0, 4.0)  # c1's last answer
    assert 'callcenter_agent_csat_ratio{agent="a2",window="today"} 0.0' in render(snapshot).decode()


def test_a_heartbeat_left_first_by_trimming_does_not_count_its_state_twice() -> None:
    """Told timelines leave out heartbeats that change nothing; the history keeps the newest
    for a while, and once older changes are trimmed one of them can be the first change kept,
    inside a segment the queue already counts. Found replaying a simulated day (4 % too much)."""
    engine = Engine(Settings())
    beats = [state(f"2026-01-05T{t}:00Z", "a1", "available") for t in ("10:05", "10:30", "10:55", "11:20")]
    groups = {
        "10:50": [state("2026-01-05T10:00:00Z", "a1", "available", queues=("sales",)), *beats[:2]],
        "12:00": [
            *beats[2:],
            *(state(f"2026-01-05T{t}:00Z", "a1", "on_call") for t in ("11:30", "11:45", "12:00")),
        ],
        "12:10": [state("2026-01-05T12:10:00Z", "a1", "on_call")],  # its history now begins at 10:55
    }
    for now, events in groups.items():
        for event in events:
            engine.apply(event)
        snapshot = engine.snapshot(at(f"2026-01-05T{now}:00Z"))
    assert queue_of(snapshot, "sales").agent_seconds["today"] == zeroes(available=5400.0, on_call=2400.0)
    assert agent_of(snapshot, "a1").windows["today"].state_seconds == zeroes(available=5400.0, on_call=2400.0)
