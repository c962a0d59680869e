"""Known answers, worked out by hand from docs/metrics.md."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.settings import Limits, QueueSettings, Settings
from metrics.snapshot import QueueSnapshot
from metrics.timeutil import parse_rfc3339_us
from tests.helpers import ev


@pytest.fixture
def run() -> Callable[..., QueueSnapshot]:
    """Factory: feed events to a fresh engine, return one queue's snapshot at an instant."""

    def run(
        events: list[Event], at: str, queue: str = "sales", settings: Settings | None = None
    ) -> QueueSnapshot:
        engine = Engine(settings or Settings())
        for event in events:
            engine.apply(event)
        snapshot = engine.snapshot(parse_rfc3339_us(at))
        return next(q for q in snapshot.queues if q.queue == queue)

    return run


def answered_call(call: str, queued: str, answered: str, agent: str = "a1") -> list[Event]:
    return [
        ev("call.queued", queued, call_id=call, queue="sales"),
        ev("call.answered", answered, call_id=call, queue="sales", agent_id=agent),
    ]


def test_a_caller_waiting_past_threshold_lowers_service_level_before_the_call_ends(
    run: Callable[..., QueueSnapshot],
) -> None:
    events = answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z")
    events.append(ev("call.queued", "2026-01-05T10:00:00Z", call_id="c2", queue="sales"))
    before = run(events, "2026-01-05T10:00:19Z").windows["5m"]
    at_threshold = run(events, "2026-01-05T10:00:20Z").windows["5m"]
    assert before.service_level_ratio == 1.0
    assert at_threshold.service_level_ratio == 0.5  # c2 counted, not met, at queued + T
    assert run(events, "2026-01-05T10:00:20Z").waiting == 1


def test_a_late_answer_is_not_counted_twice_for_service_level(run: Callable[..., QueueSnapshot]) -> None:
    events = answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:45Z")
    window = run(events, "2026-01-05T10:01:00Z").windows["5m"]
    assert (window.sums[5], window.sums[6]) == (0, 1)  # met, counted: one event, at 10:00:20
    assert window.answer_speed_seconds == 45.0


@pytest.mark.parametrize(
    ("wait", "short", "long"),
    [("04.999999", 1, 0), ("05", 0, 1), ("06", 0, 1)],
)
def test_abandons_shorter_than_s_are_short_abandons(
    run: Callable[..., QueueSnapshot], wait: str, short: int, long: int
) -> None:
    events = [
        ev("call.queued", "2026-01-05T10:00:00Z", call_id="c1", queue="sales"),
        ev("call.abandoned", f"2026-01-05T10:00:{wait}Z", call_id="c1", queue="sales"),
        *answered_call("c2", "2026-01-05T10:00:00Z", "2026-01-05T10:00:01Z"),
    ]
    window = run(events, "2026-01-05T10:01:00Z").windows["5m"]
    assert (window.sums[3], window.sums[2]) == (short, long)
    assert window.abandon_ratio == long / (1 + long)  # short abandons are out of the ratio
    assert window.service_level_ratio == 1 / (1 + long)  # and out of service level


def test_rolling_window_covers_t_minus_w_exclusive_to_t_inclusive(run: Callable[..., QueueSnapshot]) -> None:
    events = [
        ev("call.queued", "2026-01-05T09:55:00Z", call_id="edge", queue="sales"),
        ev("call.queued", "2026-01-05T09:55:00.000001Z", call_id="inside", queue="sales"),
        ev("call.queued", "2026-01-05T10:00:00Z", call_id="now", queue="sales"),
        ev("call.queued", "2026-01-05T10:00:00.000001Z", call_id="future", queue="sales"),
    ]
    snapshot = run(events, "2026-01-05T10:00:00Z")
    assert snapshot.windows["5m"].sums[0] == 2  # "inside" and "now"
    assert snapshot.windows["15m"].sums[0] == 3
    assert snapshot.total.sums[0] == 3


def test_today_starts_at_local_midnight(run: Callable[..., QueueSnapshot]) -> None:
    settings = Settings(defaults=QueueSettings(timezone="Asia/Jerusalem"))
    events = [
        ev("call.queued", "2026-01-04T23:59:59+02:00", call_id="yesterday", queue="sales"),
        ev("call.queued", "2026-01-05T00:00:00+02:00", call_id="midnight", queue="sales"),
        ev("call.queued", "2026-01-05T00:30:00+02:00", call_id="later", queue="sales"),
    ]
    snapshot = run(events, "2026-01-05T00:30:00+02:00", settings=settings)
    assert snapshot.windows["today"].sums[0] == 2
    assert snapshot.windows["1h"].sums[0] == 3


@pytest.mark.parametrize(
    ("zone", "before", "first", "at"),
    [
        # New York springs forward at 02:00: the day is 23 hours long, midnight is normal.
        ("America/New_York", "2026-03-08T04:59:59Z", "2026-03-08T05:00:00Z", "2026-03-09T03:59:59Z"),
        # New York falls back: the day is 25 hours long.
        ("America/New_York", "2026-11-01T03:59:59Z", "2026-11-01T04:00:00Z", "2026-11-02T04:59:59Z"),
        # Santiago skips midnight: the 6th of September starts at 01:00 local.
        ("America/Santiago", "2026-09-06T03:59:59Z", "2026-09-06T04:00:00Z", "2026-09-06T12:00:00Z"),
        # Santiago repeats 23:00-24:00 on the 4th of April, which then lasts until 04:00Z.
        ("America/Santiago", "2026-04-04T02:59:59Z", "2026-04-04T03:00:00Z", "2026-04-05T03:59:59Z"),
    ],
)
def test_today_across_a_dst_change(
    run: Callable[..., QueueSnapshot], zone: str, before: str, first: str, at: str
) -> None:
    settings = Settings(defaults=QueueSettings(timezone=zone, windows=()))
    events = [
        ev("call.queued", before, call_id="before", queue="sales"),
        ev("call.queued", first, call_id="first", queue="sales"),
    ]
    assert run(events, at, settings=settings).windows["today"].sums[0] == 1


def test_today_moves_to_the_next_day_while_running() -> None:
    engine = Engine(Settings())
    engine.apply(ev("call.queued", "2026-01-05T23:59:00Z", call_id="c1", queue="sales"))
    assert engine.snapshot(parse_rfc3339_us("2026-01-05T23:59:30Z")).queues[0].windows["today"].sums[0] == 1
    engine.apply(ev("call.queued", "2026-01-06T00:00:10Z", call_id="c2", queue="sales"))
    after = engine.snapshot(parse_rfc3339_us("2026-01-06T00:01:00Z")).queues[0]
    assert after.windows["today"].sums[0] == 1
    assert after.windows["5m"].sums[0] == 2


def test_order_and_duplicates_do_not_change_the_result(run: Callable[..., QueueSnapshot]) -> None:
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:30Z"),
        ev("call.ended", "2026-01-05T10:05:00Z", call_id="c1", agent_id="a1", wrapup=True),
        ev("call.wrapup_ended", "2026-01-05T10:06:00Z", call_id="c1", agent_id="a1"),
    ]
    in_order = run(events, "2026-01-05T10:10:00Z")
    scrambled = run(
        [events[3], events[1], events[2], events[1], events[0], events[3]], "2026-01-05T10:10:00Z"
    )
    assert in_order == scrambled
    assert in_order.windows["15m"].handle_time_seconds == 330.0  # 4:30 talk + 1:00 wrap-up
    assert in_order.windows["15m"].answer_speed_seconds == 30.0


def test_handling_waits_for_wrapup_to_end(run: Callable[..., QueueSnapshot]) -> None:
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:10Z"),
        ev("call.ended", "2026-01-05T10:02:00Z", call_id="c1", agent_id="a1", wrapup=True),
    ]
    assert run(events, "2026-01-05T10:10:00Z").windows["15m"].handle_time_seconds is None


def test_a_call_that_never_ends_expires_at_the_maximum_age(run: Callable[..., QueueSnapshot]) -> None:
    settings = Settings(limits=Limits(max_call_age_seconds=600))
    events = [ev("call.queued", "2026-01-05T10:00:00Z", call_id="stuck", queue="sales")]
    waiting = run(events, "2026-01-05T10:09:59Z", settings=settings)
    expired = run(events, "2026-01-05T10:10:00Z", settings=settings)
    assert (waiting.waiting, waiting.longest_wait_seconds, waiting.total.sums[12]) == (1, 599.0, 0)
    assert (expired.waiting, expired.longest_wait_seconds, expired.total.sums[12]) == (0, 0.0, 1)


def test_a_too_late_call_event_is_rejected_and_counted() -> None:
    engine = Engine(Settings(limits=Limits(max_call_age_seconds=600)))
    engine.snapshot(parse_rfc3339_us("2026-01-05T11:00:00Z"))
    engine.apply(ev("call.queued", "2026-01-05T10:49:59Z", call_id="late", queue="sales"))
    engine.apply(ev("call.queued", "2026-01-05T10:50:00Z", call_id="just", queue="sales"))
    snapshot = engine.snapshot(parse_rfc3339_us("2026-01-05T11:00:00Z"))
    assert snapshot.pipeline.rejected_by_reason == {"too_late": 1}
    assert snapshot.queues[0].total.sums[0] == 1


def test_a_transfer_into_another_queue_is_offered_in_both(run: Callable[..., QueueSnapshot]) -> None:
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:10Z"),
        ev("call.transferred", "2026-01-05T10:01:00Z", call_id="c1", agent_id="a1", to_queue="billing"),
        ev("call.ended", "2026-01-05T10:01:00Z", call_id="c1", agent_id="a1"),
        ev("call.queued", "2026-01-05T10:01:00Z", call_id="c1", queue="billing"),
        ev("call.answered", "2026-01-05T10:01:30Z", call_id="c1", queue="billing", agent_id="a2"),
    ]
    sales = run(events, "2026-01-05T10:05:00Z")
    billing = run(events, "2026-01-05T10:05:00Z", queue="billing")
    assert (sales.windows["15m"].sums[0], sales.windows["15m"].sums[10]) == (1, 1)  # offered, transferred
    assert (billing.windows["5m"].sums[0], billing.windows["5m"].answer_speed_seconds) == (1, 30.0)


def test_blocked_calls_are_not_offered(run: Callable[..., QueueSnapshot]) -> None:
    events = [ev("call.blocked", "2026-01-05T10:00:00Z", call_id="c1", queue="sales")]
    window = run(events, "2026-01-05T10:01:00Z").windows["5m"]
    assert (window.sums[0], window.sums[11]) == (0, 1)


def test_transfer_and_blocked_ratios(run: Callable[..., QueueSnapshot]) -> None:
    """docs/metrics.md: transferred / answered, blocked / (offered + blocked)."""
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:10Z"),
        *answered_call("c2", "2026-01-05T10:00:00Z", "2026-01-05T10:00:20Z", agent="a2"),
        ev("call.transferred", "2026-01-05T10:01:00Z", call_id="c1", agent_id="a1", to_queue="billing"),
        ev("call.queued", "2026-01-05T10:00:30Z", call_id="c3", queue="sales"),
        *(ev("call.blocked", "2026-01-05T10:00:40Z", call_id=f"b{n}", queue="sales") for n in range(2)),
    ]
    window = run(events, "2026-01-05T10:02:00Z").windows["5m"]
    assert (window.transfer_ratio, window.blocked_ratio) == (0.5, 2 / 5)  # 1 of 2; 2 of 3 + 2
    quiet = run(events, "2026-01-05T10:30:00Z").windows["5m"]
    assert (quiet.transfer_ratio, quiet.blocked_ratio) == (None, None)  # 0 / 0: not exported


def test_a_transfer_of_a_call_answered_before_a_short_window_can_exceed_one(
    run: Callable[..., QueueSnapshot],
) -> None:
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:10Z"),
        *answered_call("c2", "2026-01-05T10:04:00Z", "2026-01-05T10:04:10Z", agent="a2"),
        ev("call.transferred", "2026-01-05T10:04:30Z", call_id="c1", agent_id="a1", to_queue="billing"),
        ev("call.transferred", "2026-01-05T10:04:40Z", call_id="c2", agent_id="a2", to_queue="billing"),
    ]
    assert run(events, "2026-01-05T10:06:00Z").windows["5m"].transfer_ratio == 2 / 1  # c1 answered before
    assert run(events, "2026-01-05T10:09:35Z").windows["5m"].transfer_ratio is None  # a transfer, no answer


SL_CASES = [
    # (rule, expected met/counted) for: answered in 10 s, answered in 30 s,
    # abandoned at 3 s (short), abandoned at 10 s, abandoned at 40 s, flowed out at 25 s
    ("default", (1, 5)),  # met: 10 s; counted: 10 s, ab 10 s, and 30 s, ab 40 s, flow 25 s at T
    ("answered_only", (1, 2)),
    ("abandons_ignored_within_threshold", (1, 3)),
    ("abandons_positive", (2, 4)),
]


@pytest.mark.parametrize(("rule", "met_counted"), SL_CASES)
def test_service_level_rules(
    run: Callable[..., QueueSnapshot], rule: str, met_counted: tuple[int, int]
) -> None:
    settings = Settings(defaults=QueueSettings(service_level_rule=rule))
    start = "2026-01-05T10:00:00Z"
    events = [
        *answered_call("fast", start, "2026-01-05T10:00:10Z"),
        *answered_call("slow", start, "2026-01-05T10:00:30Z", agent="a2"),
        *(ev("call.queued", start, call_id=c, queue="sales") for c in ("short", "ab10", "ab40", "flow")),
        ev("call.abandoned", "2026-01-05T10:00:03Z", call_id="short", queue="sales"),
        ev("call.abandoned", "2026-01-05T10:00:10Z", call_id="ab10", queue="sales"),
        ev("call.abandoned", "2026-01-05T10:00:40Z", call_id="ab40", queue="sales"),
        ev("call.flowed_out", "2026-01-05T10:00:25Z", call_id="flow", queue="sales", reason="timeout"),
    ]
    window = run(events, "2026-01-05T10:05:00Z", settings=settings).windows["15m"]
    assert (window.sums[5], window.sums[6]) == met_counted


def test_agents_by_state_across_queues(run: Callable[..., QueueSnapshot]) -> None:
    events = [
        ev(
            "agent.state",
            "2026-01-05T09:00:00Z",
            agent_id="multi",
            state="available",
            queues=("sales", "support"),
        ),
        ev("agent.state", "2026-01-05T09:00:00Z", agent_id="solo", state="available", queues=("sales",)),
        ev("agent.state", "2026-01-05T09:30:00Z", agent_id="multi", state="on_call"),  # list stands
        ev("agent.state", "2026-01-05T09:40:00Z", agent_id="solo", state="away", queues=("support",)),
    ]
    sales = run(events, "2026-01-05T10:00:00Z").agents
    support = run(events, "2026-01-05T10:00:00Z", queue="support").agents
    assert (sales["on_call"], sales["available"], sales["away"]) == (1, 0, 0)
    assert (support["on_call"], support["available"], support["away"]) == (1, 0, 1)


def test_an_agent_silent_past_the_maximum_age_is_gone(run: Callable[..., QueueSnapshot]) -> None:
    settings = Settings(limits=Limits(max_agent_age_seconds=3600))
    events = [ev("agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="available", queues=("sales",))]
    assert run(events, "2026-01-05T10:00:00Z", settings=settings).agents["available"] == 1
    assert run(events, "2026-01-05T10:00:01Z", settings=settings).agents["available"] == 0


def test_staffing_by_erlang_c(run: Callable[..., QueueSnapshot]) -> None:
    """docs/metrics.md's check: 100 calls in 30 min, AHT 180 s, T 20 s, target 0.8 -> A = 10,
    14 agents needed; 12 staffed now (10 available, 2 on a call; 1 away does not count)."""
    settings = Settings(defaults=QueueSettings(windows=("30m",)))
    events = []
    for n in range(1, 101):  # queued and answered every 18 s from 10:00:18 to 10:30:00
        at = f"2026-01-05T10:{n * 18 // 60:02d}:{n * 18 % 60:02d}Z"
        events += answered_call(f"c{n}", at, at)
        done = f"2026-01-05T10:{n * 18 // 60 + 3:02d}:{n * 18 % 60:02d}Z"
        events.append(ev("call.ended", done, call_id=f"c{n}", agent_id="a1"))
    for n, state in enumerate(["available"] * 10 + ["on_call"] * 2 + ["away"]):
        events.append(
            ev("agent.state", "2026-01-05T09:00:00Z", agent_id=f"s{n}", state=state, queues=("sales",))
        )
    queue = run(events, "2026-01-05T10:30:00Z", settings=settings)
    need = queue.staffing("30m")
    assert need is not None and need.load_erlangs == pytest.approx(10.0)
    assert (need.required_agents, need.gap_agents) == (14, 2)
    assert need.predicted_service_level == pytest.approx(0.6402, abs=5e-5)  # Erlang C at 12
    assert queue.staffing("today") is None  # rolling windows only
    assert run(events[:2], "2026-01-05T10:30:00Z", settings=settings).staffing("30m") is None  # none handled


def test_surveys_count_at_their_time_in_the_queue_that_last_answered(
    run: Callable[..., QueueSnapshot],
) -> None:
    """docs/metrics.md: CSAT 4-5 / answers, NPS (9-10 minus 0-6) / answers, CES mean."""
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z"),
        *answered_call("c2", "2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z", agent="a2"),
        *answered_call("c3", "2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z", agent="a3"),
        ev("survey.completed", "2026-01-05T10:05:00Z", call_id="c1", csat=5, nps=10, ces=2),
        ev("survey.completed", "2026-01-05T10:06:00Z", call_id="c2", csat=3, nps=7),
        ev("survey.completed", "2026-01-05T10:07:00Z", call_id="c3", csat=4, nps=3, ces=5),
        ev("survey.completed", "2026-01-05T10:08:00Z", call_id="c3", csat=1),  # later: not counted
        ev("survey.completed", "2026-01-05T10:01:00Z", call_id="c9", csat=1),  # no answer, no queue
    ]
    window = run(events, "2026-01-05T10:10:00Z").windows["15m"]
    assert window.survey_responses() == {"csat": 3, "nps": 3, "ces": 2}
    assert (window.csat_ratio, window.nps_ratio, window.customer_effort_score) == (2 / 3, 0.0, 3.5)
    assert run(list(reversed(events)), "2026-01-05T10:10:00Z").windows["15m"] == window  # any order
    early = run(events, "2026-01-05T10:05:30Z").windows["15m"]
    assert early.survey_responses() == {"csat": 1, "nps": 1, "ces": 1}  # at the survey's time


def test_a_survey_names_its_queue_or_follows_the_answer_before_it(
    run: Callable[..., QueueSnapshot],
) -> None:
    events = [
        *answered_call("c1", "2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z"),
        ev("call.queued", "2026-01-05T10:03:00Z", call_id="c1", queue="billing"),  # transferred on
        ev("call.answered", "2026-01-05T10:03:10Z", call_id="c1", queue="billing", agent_id="a2"),
        ev("survey.completed", "2026-01-05T10:06:00Z", call_id="c1", csat=5),
        ev("survey.completed", "2026-01-05T10:06:00Z", call_id="c2", csat=2, queue="sales"),
    ]
    at = "2026-01-05T10:10:00Z"
    assert run(events, at, queue="billing").windows["15m"].survey_responses()["csat"] == 1
    assert run(events, at, queue="sales").windows["15m"].csat_ratio == 0.0  # only c2, named
