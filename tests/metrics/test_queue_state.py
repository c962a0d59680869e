"""A queue that moves its quiet visits to a cold store counts exactly as one that keeps them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.cold import InMemoryCold
from metrics.engine import Engine
from metrics.packing import COLD_AFTER_US, packed_last_us
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.timeutil import parse_rfc3339_us
from metrics.visits import Handling, Visit
from tests.strategies import History, histories, instants

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class ColdEngine(Engine):
    """An engine whose queues move quiet visits to a cold store, as the worker's registry does."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.cold = InMemoryCold()

    def queue(self, name: str) -> QueueState:
        if name not in self.queues:
            self.queues[name] = QueueState(name, self.settings, lambda c: self.cold.get(f"{name}/{c}"))
        return self.queues[name]

    def tidy(self, now: int) -> None:
        self._forget(now)  # calls and agents, as snapshot(now) does
        for name, state in self.queues.items():
            let_go = state.forget(now, pack_cold=True)
            self.cold.delete(f"{name}/{call_id}" for call_id in let_go.calls)
            rows = [
                (f"{name}/{c}", packed_last_us(d) + state.keep_visit_us, d) for c, d in let_go.packed.items()
            ]
            self.cold.put(0, rows)
        for key, data in self.cold.expire(0, now):
            name, call_id = key.split("/", 1)
            self.queues[name].settle_cold(call_id, data, now)

    def all_visits(self, state: QueueState) -> dict[str, Visit | None]:
        prefix = f"{state.queue}/"
        cold = [key.removeprefix(prefix) for key, _ in self.cold.items() if key.startswith(prefix)]
        return {call_id: state.visit(call_id) for call_id in {*state.visits, *cold}}


@PROPERTY
@given(st.data())
def test_moving_quiet_visits_to_a_cold_store_changes_no_number(data: st.DataObject) -> None:
    """Events trickle in between snapshots; one engine's queues go through a cold store after each."""
    history: History = data.draw(histories())
    moments = data.draw(instants(history))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(history.events)), min_size=len(moments))))
    cold, plain, applied = ColdEngine(history.settings), Engine(history.settings), 0
    for now, cut in zip(moments, cuts, strict=False):
        for event in history.events[applied:cut]:
            cold.apply(event)
            plain.apply(event)
        applied = cut
        assert cold.snapshot(now, let_go=False) == plain.snapshot(now, let_go=False)
        cold.tidy(now)
        plain.snapshot(now)  # lets go as the plain engine does
    for state in cold.queues.values():
        assert cold.all_visits(state) == plain.queues[state.queue].visits


def test_a_quiet_visit_goes_cold_and_comes_back_when_its_call_moves_on() -> None:
    settings = Settings()
    store: dict[str, bytes] = {}
    packing, plain = QueueState("sales", settings, store.get), QueueState("sales", settings)
    waiting = Visit("c1", "sales", last_us=NOW, queued_us=NOW)
    answered = waiting._replace(outcome="answered", outcome_us=NOW + 2 * COLD_AFTER_US)
    for state in (packing, plain):
        state.apply_visit(waiting)
    let_go = packing.forget(NOW + COLD_AFTER_US + 1, pack_cold=True)
    assert let_go.packed == {"c1": waiting.pack()} and packing.visits == {}
    assert packing.visit("c1") is None  # handed over: the caller keeps it
    store.update(let_go.packed)
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
    expired.forget(NOW + COLD_AFTER_US + 1, pack_cold=True)
    assert expired.visits == {}
    assert expired.settle_cold("c1", visit.pack(), later)
    plain.forget(later)
    assert expired.settled == plain.settled and plain.visits == {}
    plain.apply_visit(visit)
    assert not plain.settle_cold("c1", visit.pack(), later)  # a stale cold copy of a hot visit


def test_a_packed_visit_unpacks_to_the_same_visit() -> None:
    handlings = (Handling(done_us=9, handle_us=4),)
    visit = Visit("c1", "sales", 9 * COLD_AFTER_US, 0, "answered", 5, handlings, (7,), None)
    assert Visit.unpack("c1", "sales", visit.pack()) == visit
