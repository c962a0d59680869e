"""The time rules, at their exact edges, for each clock."""

from __future__ import annotations

import pytest

from metrics.contract.events import Event
from metrics.settings import Limits
from metrics.steps.admission import Admission
from metrics.steps.clock import FixedClock, Reading, ReplayClock
from metrics.timeutil import US
from tests.helpers import ev

LIMITS = Limits(max_call_age_seconds=600, max_agent_age_seconds=1200, max_clock_skew_seconds=30)
NOW = 1_767_607_200 * US


def call_at(time_us: int) -> Event:
    return ev("call.queued", "2026-01-05T10:00:00Z", call_id="c1", queue="q")._replace(time_us=time_us)


@pytest.mark.parametrize(
    ("offset_us", "reason"),
    [
        (-600 * US - 1, "too_late"),
        (-600 * US, None),
        (30 * US, None),
        (30 * US + 1, "too_early"),
    ],
)
def test_a_call_event_is_judged_against_max_call_age_and_max_clock_skew(
    offset_us: int, reason: str | None
) -> None:
    rejection = Admission(LIMITS, "call").judge(call_at(NOW + offset_us), FixedClock(NOW).reading())
    assert (rejection.reason if rejection else None) == reason


def test_an_agent_event_has_its_own_age() -> None:
    agent = ev("agent.state", "2026-01-05T09:40:00Z", agent_id="a1", state="away")
    assert Admission(LIMITS, "agent").judge(agent, FixedClock(NOW).reading()) is None
    late = agent._replace(time_us=NOW - 1200 * US - 1)
    assert Admission(LIMITS, "agent").judge(late, FixedClock(NOW).reading()) is not None


def test_the_replay_clock_reaches_forward_only_and_knows_no_arrival() -> None:
    clock = ReplayClock()
    assert clock.reading() == Reading(None, None)
    clock.reach(NOW)
    clock.reach(NOW - US)
    assert clock.reading() == Reading(NOW, None)
    far_ahead = call_at(NOW + 3600 * US)
    assert Admission(LIMITS, "call").judge(far_ahead, clock.reading()) is None
