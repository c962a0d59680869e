"""A queue that moves its quiet visits to a cold store counts exactly as one that keeps them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.storage.packing import COLD_AFTER_US, pack_visit, unpack_visit
from metrics.timeutil import parse_rfc3339_us
from metrics.visits import Handling, Visit
from tests.strategies import History, histories, instants

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def all_visits(engine: Engine, state: QueueState) -> dict[str, Visit | None]:
    """A queue's visits, hot or in its step's cold store."""
    cold = [visit.call_id for visit in engine.queue_step.cold.items() if visit.queue == state.queue]
    return {call_id: state.visit(call_id) for call_id in {*state.visits, *cold}}


@PROPERTY
@given(st.data())
def test_moving_quiet_visits_to_a_cold_store_changes_no_number(data: st.DataObject) -> None:
    """Events trickle in between snapshots; one engine's queues go through a cold store after each."""
    history: History = data.draw(histories())
    moments = data.draw(instants(history))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(history.events)), min_size=len(moments))))
    cold, plain, applied = Engine(history.settings), Engine(history.settings), 0
    for now, cut in zip(moments, cuts, strict=False):
        for event in history.events[applied:cut]:
            cold.apply(event)
            plain.apply(event)
        applied = cut
        assert cold.snapshot(now) == plain.snapshot(now)
        cold.expire(now)
        cold.queue_step.pack(0, now)  # as the worker's housekeeping does
        plain.expire(now)
    for state in cold.queues.values():
        assert all_visits(cold, state) == plain.queues[state.queue].visits


def test_a_quiet_visit_goes_cold_and_comes_back_when_its_call_moves_on() -> None:
    settings = Settings()
    store: dict[str, Visit] = {}
    packing, plain = QueueState("sales", settings, store.get), QueueState("sales", settings)
    waiting = Visit("c1", "sales", last_us=NOW, queued_us=NOW)
    answered = waiting._replace(outcome="answered", outcome_us=NOW + 2 * COLD_AFTER_US)
    for state in (packing, plain):
        state.apply_visit(waiting)
    quiet = packing.release_quiet(NOW + 1)
    assert quiet == [waiting] and packing.visits == {}
    assert packing.visit("c1") is None  # handed over: the caller keeps it
    store.update({visit.call_id: visit for visit in quiet})
    assert packing.visit("c1") == waiting
    for state in (packing, plain):
        state.apply_visit(answered)
    later = NOW + 3 * COLD_AFTER_US
    assert packing.snapshot(later) == plain.snapshot(later)
    assert packing.visits["c1"] == answered


def test_an_expired_cold_visit_is_settled_unless_it_is_hot_again() -> None:
    settings = Settings()
    expired, plain = QueueState("sales", settings), QueueState("sales", settings)
    visit = Visit("c1", "sales", last_us=NOW, queued_us=NOW, outcome="abandoned", outcome_us=NOW)
    for state in (expired, plain):
        state.apply_visit(visit)
    later = NOW + expired.keep_visit_us + 1
    expired.release_quiet(NOW + 1)
    assert expired.visits == {}
    assert expired.expire_cold(visit, later)
    plain.expire(later)
    assert expired.settled == plain.settled and plain.visits == {}
    plain.apply_visit(visit)
    assert not plain.expire_cold(visit, later)  # a stale cold copy of a hot visit


def test_a_packed_visit_unpacks_to_the_same_visit() -> None:
    handlings = (Handling(done_us=9, handle_us=4),)
    visit = Visit("c1", "sales", 9 * COLD_AFTER_US, 0, "answered", 5, handlings, (7,), None)
    assert unpack_visit("c1", "sales", pack_visit(visit)) == visit


def test_a_flow_out_keeps_its_reason_packed_and_as_json_and_older_forms_read_as_other() -> None:
    visit = Visit("c1", "sales", 9, 0, "flowed_out", 9, flow_out_reason="callback")
    assert unpack_visit("c1", "sales", pack_visit(visit)) == visit
    assert Visit.from_json(visit.to_json()) == visit
    stored_before_reasons = visit.to_json()[:9]
    assert Visit.from_json(stored_before_reasons).flow_out_reason == "other"
    answered = visit._replace(outcome="answered", flow_out_reason=None)
    assert len(answered.to_json()) == 9 and Visit.from_json(answered.to_json()) == answered
