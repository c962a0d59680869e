"""The steps wired in one process: dicts for the tables, a list for the internal queue topic.

``ccmetrics replay`` and the tests use it; the worker wires the same steps
(:mod:`metrics.steps`) to faust tables and Kafka topics. The clock is the only difference:
here a :class:`~metrics.steps.clock.ReplayClock`, moved by each snapshot. Usage::

    engine = Engine(Settings(), caller_secret=None)   # a secret turns repeat calls on
    for event in events:
        engine.apply(event)
    snapshot = engine.snapshot(now_us)
    engine.expire(now_us)               # optional: state too old to matter expires
"""

from __future__ import annotations

from typing import Final

from metrics.agents import AgentHistory
from metrics.callers import CallerHasher, CallerHistory, CallerMark
from metrics.calls import CallRecord
from metrics.contract.events import Event
from metrics.pipeline import PipelineStats
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from metrics.steps.agent_board import AgentBoard
from metrics.steps.callers import CallerStep
from metrics.steps.clock import Clock, Reading, ReplayClock
from metrics.steps.entities import AgentStep, CallStep, EntityStep, State
from metrics.steps.messages import QueueUpdate, StepOutput
from metrics.steps.queues import QueueStep

BATCH_EVENTS: Final = 10_000  # events folded per batch: a call's several events then make one visit


class Engine:
    """Folds events into per-call, per-agent and per-queue state, a batch at a time.

    Each event is taken by its step as it comes; the batch ends (its queue updates are made
    and applied) every :data:`BATCH_EVENTS` events and before a snapshot. The clock's
    reading is taken at the start of each batch.
    """

    def __init__(
        self, settings: Settings, clock: Clock | None = None, caller_secret: bytes | None = None
    ) -> None:
        self.settings = settings
        self.clock: Clock = ReplayClock() if clock is None else clock
        self.stats = PipelineStats()
        self.calls: dict[str, CallRecord] = {}
        self.agents: dict[str, AgentHistory] = {}
        self.callers: dict[str, CallerHistory] = {}  # by the callers' hashes: repeat calls on
        hasher = CallerHasher.from_secret(caller_secret)
        self.call_step = CallStep(settings, self.stats, hasher)
        self.agent_step = AgentStep(settings, self.stats)
        self.caller_step = CallerStep(settings)
        self.queue_step = QueueStep(settings)
        self.board = AgentBoard(settings)
        self._start_batch()

    def _start_batch(self) -> None:
        self._reading = self.clock.reading()
        self._calls_out: StepOutput[CallRecord, None] = StepOutput()
        self._agents_out: StepOutput[AgentHistory, None] = StepOutput()
        self._taken = 0

    @property
    def queues(self) -> dict[str, QueueState]:
        return self.queue_step.states

    def apply(self, event: Event, unknown_fields: int = 0) -> None:
        """Take one valid event into the batch."""
        if event.type == "agent.state":
            self.agent_step.take(event, unknown_fields, None, self.agents, self._agents_out, self._reading)
        else:
            self.call_step.take(event, unknown_fields, None, self.calls, self._calls_out, self._reading)
        self._taken += 1
        if self._taken >= BATCH_EVENTS:
            self.flush()

    def flush(self) -> None:
        """End the batch: store its states, and apply its updates to the queues."""
        if self._taken:
            updates = _finish(self.call_step, self._calls_out, self.calls, self._reading)
            updates += _finish(self.agent_step, self._agents_out, self.agents, self._reading)
            updates += self._verdicts(self._calls_out.callers)
            for update in updates:
                self.queue_step.apply(update, 0)
            for state in self._calls_out.board + self._agents_out.board:
                self.board.apply(state, 0)
        self._start_batch()

    def _verdicts(self, marks: list[tuple[CallerMark, None]]) -> list[QueueUpdate]:
        if not marks:
            return []
        output = self.caller_step.fold(marks, self.callers, self._reading)
        self.callers.update((caller, history) for caller, (history, _) in output.writes.items())
        return output.updates

    def advance(self, now_us: int) -> None:
        """Move every queue's windows to ``now_us`` (lets old buckets go early, saving memory)."""
        self.flush()
        for state in self.queues.values():
            state.sums.advance(now_us)

    def snapshot(self, now_us: int) -> Snapshot:
        """Every queue's metrics at ``now_us``, which becomes the clock's reached instant."""
        self.flush()
        self.clock.reach(now_us)
        self._reading = self.clock.reading()
        queues, agents = self.queue_step.snapshot(now_us), self.board.snapshot(now_us)
        return Snapshot(now_us, queues, self.stats.snapshot(), agents, self.settings.agents.export, now_us)

    def expire(self, now_us: int) -> None:
        """Expire calls, agents and visits too old to matter at ``now_us`` (sums stay exact)."""
        self.flush()
        _expire(self.call_step, self.calls, now_us)
        _expire(self.agent_step, self.agents, now_us)
        for caller in self.caller_step.expired(self.callers, list(self.callers), now_us):
            del self.callers[caller]
        self.queue_step.expire(0, now_us)
        self.board.expire(0, now_us)


def _finish(
    step: EntityStep[State], output: StepOutput[State, None], store: dict[str, State], reading: Reading
) -> list[QueueUpdate]:
    step.finish(output, store, reading)
    store.update((key, state) for key, (state, _) in output.writes.items())
    return output.updates


def _expire(step: EntityStep[State], store: dict[str, State], now_us: int) -> None:
    for key in step.expired(store, list(store), now_us):
        del store[key]
