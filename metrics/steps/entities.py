"""The per-call and per-agent steps: admit, fold, and tell the queues.

Each takes a batch of :class:`~metrics.steps.messages.Arrival`, a store of states (a dict in
replay, a faust table in the worker, with packed states behind it) and the clock's reading.
Each entity's state is stored once and each queue gets one update per batch, however many of
the batch's events touched them. :meth:`~EntityStep.fold` is a whole batch; the replay engine
feeds one event at a time into a batch's output instead (:meth:`~EntityStep.take`, then
:meth:`~EntityStep.finish`): the same rules, without a list of arrivals. Usage::

    calls = CallStep(settings, stats)
    output = calls.fold(arrivals, records, clock.reading())
    records.update({call_id: record for call_id, (record, _) in output.writes.items()})
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from metrics.agent_timeline import AgentTimeline
from metrics.agents import AgentHistory
from metrics.callers import CallerHasher
from metrics.calls import CallRecord
from metrics.contract.events import AGENT_TYPES, CALL_TYPES, Event, Rejection
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.steps.admission import Admission
from metrics.steps.clock import NOTHING_TO_JUDGE, Reading
from metrics.steps.messages import Arrival, QueueUpdate, Seen, StepOutput, Token
from metrics.storage.cold import Lookup
from metrics.visits import Visit

State = TypeVar("State", CallRecord, AgentHistory)


class EntityStep(Generic[State]):
    """Shared by both steps; a subclass says how one event folds into its state."""

    kinds: frozenset[str]
    what: str  # "call" or "agent"
    queue_kind: str  # what its queue updates carry: "visits" or "agents"
    key_field: int  # the position in an Event of the entity's id (never None: the decoder checks)
    state_type: type[State]  # made from the id when an entity is first seen

    def __init__(self, settings: Settings, stats: PipelineStats) -> None:
        self.stats = stats
        self.admission = Admission(settings.limits, self.what)
        limits = settings.limits
        self.expire_after_us = (
            limits.expire_call_after_us if self.what == "call" else limits.expire_agent_after_us
        )

    def fold(
        self, arrivals: Iterable[Arrival[Token]], store: Lookup[State], reading: Reading
    ) -> StepOutput[State, Token]:
        """Admit and fold each arrival in order; the caller stores ``writes`` and sends ``updates``."""
        output: StepOutput[State, Token] = StepOutput()
        take = self.take
        for event, unknown_fields, token in arrivals:
            take(event, unknown_fields, token, store, output, reading)
        self.finish(output, store, reading)
        return output

    def take(
        self,
        event: Event,
        unknown_fields: int,
        token: Token,
        store: Lookup[State],
        output: StepOutput[State, Token],
        reading: Reading,
    ) -> None:
        """Admit and fold one event of the batch whose output is ``output``."""
        if (
            reading is not NOTHING_TO_JUDGE
            and (rejection := self.admission.judge(event, reading)) is not None
        ):
            self._refuse(rejection, token, output)
            return
        key: str = event[self.key_field]  # type: ignore[assignment]
        seen = output.seen.get(key)
        if seen is None:
            seen = output.seen[key] = Seen(self._begin(store.get(key) or self.state_type(key), reading))
        if self.placing and (rejection := self._misplaced(seen.state, event)) is not None:
            self._refuse(rejection, token, output)
            return
        told = self._apply(seen.state, event)
        if told is None:
            self.stats.duplicate()
            told = self._queues(seen.state)  # told again: a crash may have lost the first update
        else:
            self.stats.accepted(event.type, event.time_us, unknown_fields)
            if event.agent_id is not None:
                self.stats.named_agent(event.agent_id)
            seen.changed, seen.token = True, token
        seen.queues.update(told)
        if event.caller is not None:
            self._named_caller(event, token, output)

    def _refuse(self, rejection: Rejection, token: Token, output: StepOutput[State, Token]) -> None:
        self.stats.rejected(rejection.reason)
        output.rejected.append((token, rejection))

    def finish(self, output: StepOutput[State, Token], store: Lookup[State], reading: Reading) -> None:
        """End the batch: the states to store, and one update per queue with all the batch tells it."""
        output.writes = {key: (seen.state, seen.token) for key, seen in output.seen.items() if seen.changed}  # type: ignore[misc]
        output.updates = self._updates(output)

    def _apply(self, state: State, event: Event) -> Iterable[str] | None:
        """Fold the event in; the queues to tell, or ``None`` for a duplicate."""
        raise NotImplementedError

    placing = False  # whether the state may refuse an event it can no longer place

    def _begin(self, state: State, reading: Reading) -> State:
        """The state as a batch starts with it."""
        return state

    def _misplaced(self, state: State, event: Event) -> Rejection | None:
        return None

    def _named_caller(self, event: Event, token: Token, output: StepOutput[State, Token]) -> None:
        """An admitted event names a caller (again for a duplicate, as queues are told again)."""

    def _queues(self, state: State) -> Iterable[str]:
        """Every queue the entity has told."""
        raise NotImplementedError

    def _for_queue(self, state: State, queue: str) -> Visit | AgentTimeline:
        """What a queue is told of the entity."""
        raise NotImplementedError

    def last_us(self, state: State) -> int:
        """Event time of the entity's newest event."""
        raise NotImplementedError

    def expired(self, store: Lookup[State], candidates: Iterable[str], now_us: int) -> list[str]:
        """Entities among ``candidates`` silent for longer than their kind is kept."""
        oldest = now_us - self.expire_after_us
        return [
            key
            for key in candidates
            if (state := store.get(key)) is not None and self.last_us(state) < oldest
        ]

    def _updates(self, output: StepOutput[State, Token]) -> list[QueueUpdate]:
        by_queue: dict[str, list[Visit | AgentTimeline]] = {}
        for seen in output.seen.values():
            state = seen.state
            for queue in self._to_tell(seen):
                by_queue.setdefault(queue, []).append(self._for_queue(state, queue))
        kind = self.queue_kind
        return [QueueUpdate(q, kind, by_queue[q]) for q in sorted(by_queue)]  # type: ignore[arg-type]

    def _to_tell(self, seen: Seen[State, Token]) -> Iterable[str]:
        """The queues to tell of an entity this batch saw."""
        return seen.queues


class CallStep(EntityStep[CallRecord]):
    """Per-call step (key = call id): each call's events folded into its :class:`CallRecord`."""

    kinds = CALL_TYPES
    what = "call"
    queue_kind = "visits"
    key_field = Event._fields.index("call_id")
    state_type = CallRecord

    def _apply(self, record: CallRecord, event: Event) -> Iterable[str] | None:
        return record.apply(event)

    def __init__(self, settings: Settings, stats: PipelineStats, hasher: CallerHasher | None = None) -> None:
        super().__init__(settings, stats)
        self.hasher = hasher  # None: repeat calls are off, and callers are dropped unread

    def _named_caller(self, event: Event, token: Token, output: StepOutput[CallRecord, Token]) -> None:
        if self.hasher is None:
            return
        assert event.call_id is not None and event.queue is not None  # call.queued: the decoder checks
        assert event.caller is not None
        mark = self.hasher.mark(event.caller, event.call_id, event.queue, event.time_us)
        if mark is not None:
            output.callers.append((mark, token))

    def _queues(self, record: CallRecord) -> Iterable[str]:
        return record.queues()

    def finish(
        self, output: StepOutput[CallRecord, Token], store: Lookup[CallRecord], reading: Reading
    ) -> None:
        """Also tell each agent a call names how it saw the call (again for a duplicate, as queues are)."""
        super().finish(output, store, reading)
        output.board = [
            seen.state.agent_call(agent) for seen in output.seen.values() for agent in seen.state.agents()
        ]

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
    key_field = Event._fields.index("agent_id")
    state_type = AgentHistory

    placing = True

    def __init__(self, settings: Settings, stats: PipelineStats) -> None:
        super().__init__(settings, stats)
        self.keep_us, self.place_us = settings.agent_keep_us, settings.agent_place_us
        self.max_age_us = settings.limits.max_agent_age_us
        self._told: dict[str, AgentTimeline] = {}  # this batch's, for the queues and the board

    def _apply(self, history: AgentHistory, event: Event) -> Iterable[str] | None:
        return () if history.add(event) else None  # the queues to tell are all it served

    def _begin(self, history: AgentHistory, reading: Reading) -> AgentHistory:
        """Trimmed before the batch changes it: what the queues and the board were last told
        then holds every change the batch's events fall between (docs/metrics.md, "Agents")."""
        history.trim(self.keep_us, self.place_us, self.max_age_us, reading.reached_us)
        return history

    def _misplaced(self, history: AgentHistory, event: Event) -> Rejection | None:
        if history.placeable(event, self.place_us):
            return None
        return Rejection("too_late", "older than its agent's newest event by over max_agent_disorder")

    def _to_tell(self, seen: Seen[AgentHistory, Token]) -> Iterable[str]:
        return seen.state.all_queues()

    def finish(
        self, output: StepOutput[AgentHistory, Token], store: Lookup[AgentHistory], reading: Reading
    ) -> None:
        """Also tell the board each agent the batch saw (again for a duplicate, as queues are).

        Queues and the board are told one timeline made now: later batches change the stored
        history, never what was told.
        """
        self._told = {key: seen.state.timeline(self.max_age_us) for key, seen in output.seen.items()}
        super().finish(output, store, reading)
        output.board = list(self._told.values())

    def _queues(self, history: AgentHistory) -> Iterable[str]:
        return ()

    def _for_queue(self, history: AgentHistory, queue: str) -> AgentTimeline:
        return self._told[history.agent_id]

    def last_us(self, history: AgentHistory) -> int:
        return history.newest_us()
