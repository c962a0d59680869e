"""The engine equals a batch recomputation, for random histories, orders and instants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.queue_state import QueueState
from metrics.settled import Settled
from tests.helpers import differences, observed
from tests.oracle import expected
from tests.strategies import SECRET, History, histories, instants

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _zero(row: dict[str, object]) -> bool:
    """Every count 0 (counts by reason included)."""
    return all(_zero(value) if isinstance(value, dict) else value == 0 for value in row.values())


@PROPERTY
@given(st.data())
def test_replay_at_any_instant_equals_batch_recount(data: st.DataObject) -> None:
    """Replay mode: only events up to now are fed, in a shuffled order with duplicates."""
    history: History = data.draw(histories())
    now = data.draw(instants(history))[-1]
    engine = Engine(history.settings, caller_secret=SECRET)
    for event in history.events:
        if event.time_us <= now:
            engine.apply(event)
    got, want = observed(engine.snapshot(now)), expected(history.events, history.settings, now)
    assert differences({q: got[q] for q in want}, want) == []
    assert all(_zero(row) for q, row in got.items() if q not in want)  # a survey moved away from it


@PROPERTY
@given(st.data())
def test_live_snapshots_as_now_moves_equal_batch_recount(data: st.DataObject) -> None:
    """Live mode: every event is known (some in the future), snapshots taken as now advances."""
    history: History = data.draw(histories())
    engine = Engine(history.settings, caller_secret=SECRET)
    for event in history.events:
        engine.apply(event)
    for now in data.draw(instants(history)):
        got, want = observed(engine.snapshot(now)), expected(history.events, history.settings, now)
        assert differences({q: got[q] for q in want}, want) == []
        engine.expire(now)  # as the worker's housekeeping does between snapshots
        assert all(_zero(row) for q, row in got.items() if q not in want)


@PROPERTY
@given(st.data())
def test_events_arriving_between_snapshots_equal_batch_recount(data: st.DataObject) -> None:
    """Live mode with late arrivals: events trickle in, out of order, between snapshots."""
    history: History = data.draw(histories())
    moments = data.draw(instants(history))
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(history.events)), min_size=len(moments), max_size=len(moments)))
    )
    engine, applied, known = Engine(history.settings, caller_secret=SECRET), 0, []
    limits, last_now = history.settings.limits, None
    for now, cut in zip(moments, cuts, strict=True):
        for event in history.events[applied:cut]:
            engine.apply(event)
            max_age = limits.max_agent_age_us if event.type == "agent.state" else limits.max_call_age_us
            late = last_now is not None and event.time_us < last_now - max_age
            known += [] if late else [event]
        applied, last_now = cut, now
        got, want = observed(engine.snapshot(now)), expected(known, history.settings, now)
        assert differences({q: got[q] for q in want if q in got}, want) == []
        engine.expire(now)


@PROPERTY
@given(st.data())
def test_a_queue_rebuilt_from_kept_visits_and_settled_sums_is_the_same(data: st.DataObject) -> None:
    """What a restarted worker does: visits still kept, agents, and the settled sums."""
    history: History = data.draw(histories())
    engine = Engine(history.settings, caller_secret=SECRET)
    for event in history.events:
        engine.apply(event)
    moments = data.draw(instants(history))
    for now in moments:
        engine.snapshot(now)
        engine.expire(now)  # lets old visits go into the settled sums
    for name, state in engine.queues.items():
        rebuilt = QueueState(name, history.settings)
        for visit in state.visits.values():
            rebuilt.apply_visit(visit)
        for agent in state.agents.values():
            rebuilt.apply_agent(agent)
        rebuilt.restore_settled(Settled.from_json(state.settled.to_json()))
        assert rebuilt.snapshot(moments[-1]) == state.snapshot(moments[-1])
