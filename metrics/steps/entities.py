"""The per-call and per-agent steps: admit, fold, and tell the queues.

Each takes a batch of :class:`~metrics.steps.messages.Arrival`, a store of states (a dict in
replay, a faust table in the worker, with packed states behind it) and the clock's reading.
Each entity's state is stored once and each queue gets one update per batch, however many of
the batch's events touched them. Usage::

    calls = CallStep(settings, stats)
    output = calls.fold(arrivals, records, clock.reading())
    records.update({call_id: record for call_id, (record, _) in output.writes.items()})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.contract.events import AGENT_TYPES, CALL_TYPES, Event
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.steps.admission import Admission
from metrics.steps.clock import Reading
from metrics.steps.messages import Arrival, QueueUpdate, StepOutput, Token
from metrics.visits import Visit

State = TypeVar("State", CallRecord, AgentHistory)


class EntityStep(Generic[State]):
    """Shared by both steps; a subclass says how one event folds into its state."""

    kinds: frozenset[str]
    what: str  # "call" or "agent"
    queue_kind: str  # what its queue updates carry: "visits" or "agents"

    def __init__(self, settings: Settings, stats: PipelineStats) -> None:
        self.stats = stats
        self.admission = Admission(settings.limits, self.what)
        limits = settings.limits
        self.expire_after_us = (
            limits.expire_call_after_us if self.what == "call" else limits.expire_agent_after_us
        )

    def fold(
        self, arrivals: Iterable[Arrival[Token]], store: Mapping[str, State], reading: Reading
    ) -> StepOutput[State, Token]:
        """Admit and fold each arrival in order; the caller stores ``writes`` and sends ``updates``."""
        output: StepOutput[State, Token] = StepOutput()
        judge = self.admission.judge
        for arrival in arrivals:
            rejection = judge(arrival.event, reading)
            if rejection is None:
                self._fold(arrival, store, output, reading)
            else:
                self.stats.rejected(rejection.reason)
                output.rejected.append((arrival.token, rejection))
        output.updates = self._updates(store, output)
        return output

    def _fold(
        self,
        arrival: Arrival[Token],
        store: Mapping[str, State],
        output: StepOutput[State, Token],
        reading: Reading,
    ) -> None:
        event = arrival.event
        key = self._key(event)
        state = _current(key, store, output) or self._new(key)
        told = self._apply(state, event, reading)
        if told is None:
            self.stats.duplicate()
            told = self._queues(state)  # told again: a crash may have lost the first update
        else:
            self.stats.accepted(event.type, event.time_us, arrival.unknown_fields)
            output.writes[key] = (state, arrival.token)
        output.touched.setdefault(key, set()).update(told)

    def _key(self, event: Event) -> str:
        raise NotImplementedError

    def _new(self, key: str) -> State:
        raise NotImplementedError

    def _apply(self, state: State, event: Event, reading: Reading) -> Iterable[str] | None:
        """Fold the event in; the queues to tell, or ``None`` for a duplicate."""
        raise NotImplementedError

    def _queues(self, state: State) -> Iterable[str]:
        """Every queue the entity has told."""
        raise NotImplementedError

    def _for_queue(self, state: State, queue: str) -> Visit | AgentHistory:
        """What a queue is told of the entity."""
        raise NotImplementedError

    def last_us(self, state: State) -> int:
        """Event time of the entity's newest event."""
        raise NotImplementedError

    def expired(self, store: Mapping[str, State], candidates: Iterable[str], now_us: int) -> list[str]:
        """Entities among ``candidates`` silent for longer than their kind is kept."""
        oldest = now_us - self.expire_after_us
        return [
            key
            for key in candidates
            if (state := store.get(key)) is not None and self.last_us(state) < oldest
        ]

    def _updates(self, store: Mapping[str, State], output: StepOutput[State, Token]) -> list[QueueUpdate]:
        """One update per queue, with everything the batch has to tell it."""
        by_queue: dict[str, list[Visit | AgentHistory]] = {}
        for entity, queues in output.touched.items():
            state = _current(entity, store, output)
            assert state is not None
            for queue in queues:
                by_queue.setdefault(queue, []).append(self._for_queue(state, queue))
        kind = self.queue_kind
        return [QueueUpdate(q, kind, by_queue[q]) for q in sorted(by_queue)]  # type: ignore[arg-type]


def _current(entity: str, store: Mapping[str, State], output: StepOutput[State, Token]) -> State | None:
    """The entity's state: as this batch left it, else as stored."""
    written = output.writes.get(entity)
    return written[0] if written is not None else store.get(entity)


class CallStep(EntityStep[CallRecord]):
    """Per-call step (key = call id): each call's events folded into its :class:`CallRecord`."""

    kinds = CALL_TYPES
    what = "call"
    queue_kind = "visits"

    def _key(self, event: Event) -> str:
        assert event.call_id is not None
        return event.call_id

    def _new(self, call_id: str) -> CallRecord:
        return CallRecord(call_id)

    def _apply(self, record: CallRecord, event: Event, reading: Reading) -> Iterable[str] | None:
        return record.apply(event)

    def _queues(self, record: CallRecord) -> Iterable[str]:
        return record.queues()

    def _for_queue(self, record: CallRecord, queue: str) -> Visit:
        return record.visit(queue)

    def last_us(self, record: CallRecord) -> int:
        return record.last_us


class AgentStep(EntityStep[AgentHistory]):
    """Per-agent step (key = agent id): each agent's state changes, in its :class:`AgentHistory`.

    Every queue the agent ever served hears of each change: a queue it left must hear it left.
    """

    kinds = AGENT_TYPES
    what = "agent"
    queue_kind = "agents"

    def _key(self, event: Event) -> str:
        assert event.agent_id is not None
        return event.agent_id

    def _new(self, agent_id: str) -> AgentHistory:
        return AgentHistory(agent_id)

    def _apply(self, history: AgentHistory, event: Event, reading: Reading) -> Iterable[str] | None:
        if not history.add(event):
            return None
        if reading.reached_us is not None:
            history.expire_before(reading.reached_us)
        return history.all_queues()

    def _queues(self, history: AgentHistory) -> Iterable[str]:
        return history.all_queues()

    def _for_queue(self, history: AgentHistory, queue: str) -> AgentHistory:
        return history

    def last_us(self, history: AgentHistory) -> int:
        return history.changes[-1][0] if history.changes else 0
