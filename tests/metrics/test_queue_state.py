"""A queue that packs its quiet visits counts exactly as one that keeps them as objects."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.packing import COLD_AFTER_US
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.timeutil import parse_rfc3339_us
from metrics.visits import Handling, Visit
from tests.strategies import History, histories, instants

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.data())
def test_packing_cold_visits_changes_no_number(data: st.DataObject) -> None:
    """Events trickle in between snapshots; one engine's queues pack after every snapshot."""
    history: History = data.draw(histories())
    moments = data.draw(instants(history))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(history.events)), min_size=len(moments))))
    packing, plain, applied = Engine(history.settings), Engine(history.settings), 0
    for now, cut in zip(moments, cuts, strict=False):
        for event in history.events[applied:cut]:
            packing.apply(event)
            plain.apply(event)
        applied = cut
        assert packing.snapshot(now) == plain.snapshot(now)
        for state in packing.queues.values():
            state.forget(now, pack_cold=True)
    for state in packing.queues.values():
        visits = [state.visit(call_id) for call_id in state.visits]
        assert visits == list(plain.queues[state.queue].visits.values())


def test_a_quiet_visit_is_packed_and_unpacked_when_its_call_moves_on() -> None:
    settings = Settings()
    packing, plain = QueueState("sales", settings), QueueState("sales", settings)
    waiting = Visit("c1", "sales", last_us=NOW, queued_us=NOW)
    answered = waiting._replace(outcome="answered", outcome_us=NOW + 2 * COLD_AFTER_US)
    for state in (packing, plain):
        state.apply_visit(waiting)
    let_go = packing.forget(NOW + COLD_AFTER_US + 1, pack_cold=True)
    assert let_go.packed == {"c1": waiting.pack()} and isinstance(packing.visits["c1"], bytes)
    assert packing.visit("c1") == waiting
    for state in (packing, plain):
        state.apply_visit(answered)
    later = NOW + 3 * COLD_AFTER_US
    assert packing.snapshot(later) == plain.snapshot(later)
    assert packing.visits["c1"] == answered


def test_a_packed_visit_unpacks_to_the_same_visit() -> None:
    handlings = (Handling(done_us=9, handle_us=4),)
    visit = Visit("c1", "sales", 9 * COLD_AFTER_US, 0, "answered", 5, handlings, (7,), None)
    assert Visit.unpack("c1", "sales", visit.pack()) == visit
