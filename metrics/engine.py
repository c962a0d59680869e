"""The whole engine in one process: calls, agents and queues, wired without Kafka.

``ccmetrics replay`` and the tests use it; the worker runs the same pieces
(:class:`CallRecord`, :class:`AgentHistory`, :class:`QueueState`) split across faust
agents and tables. Usage::

    engine = Engine(Settings())
    for event in events:
        engine.apply(event)
    snapshot = engine.snapshot(now_us)
"""

from __future__ import annotations

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.events import Event
from metrics.pipeline import PipelineStats
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.snapshot import Snapshot


class Engine:
    """Folds events into per-call, per-agent and per-queue state."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = PipelineStats()
        self.calls: dict[str, CallRecord] = {}
        self.agents: dict[str, AgentHistory] = {}
        self.queues: dict[str, QueueState] = {}
        self.now_us: int | None = None  # the latest instant a snapshot was taken at
        self._max_age_us = {
            "call": settings.limits.max_call_age_us,
            "agent": settings.limits.max_agent_age_us,
        }
        # Visits are handed to queues in batches: a call's several events in a row then cost
        # one visit and one set of contributions, not one per event.
        self._changed_visits: dict[tuple[str, str], CallRecord] = {}
        self._changed_agents: dict[str, AgentHistory] = {}

    def apply(self, event: Event, unknown_fields: int = 0) -> None:
        """Fold one valid event in (a duplicate is counted and changes nothing).

        A call event older than ``now - max_call_age`` (an agent event: ``max_agent_age``) is
        rejected as ``too_late``: its call or agent may already have been let go, and a fresh
        record would count the call twice or lose the agent's queues.
        """
        if self.now_us is not None and self._too_late(event):  # no snapshot yet: nothing is late
            self.stats.rejected("too_late")
            return
        elif event.type == "agent.state":
            fresh = self._apply_agent(event)
        else:
            fresh = self._apply_call(event)
        if fresh:
            self.stats.accepted(event.type, event.time_us, unknown_fields)
        else:
            self.stats.duplicate()

    def queue(self, name: str) -> QueueState:
        state = self.queues.get(name)
        if state is None:
            state = self.queues[name] = QueueState(name, self.settings)
        return state

    def advance(self, now_us: int) -> None:
        """Move every queue's windows to ``now_us`` (lets late state go early, saving memory)."""
        self._hand_over()
        for state in self.queues.values():
            state.sums.advance(now_us)

    def _too_late(self, event: Event) -> bool:
        assert self.now_us is not None
        limit = self._max_age_us["agent" if event.type == "agent.state" else "call"]
        return event.time_us < self.now_us - limit

    def snapshot(self, now_us: int, let_go: bool = True) -> Snapshot:
        """Every queue's metrics at ``now_us``; then lets go of state too old to matter.

        ``let_go=False`` skips that, for a last snapshot (a replay's) after which nothing
        more is applied.
        """
        self.now_us = now_us if self.now_us is None else max(self.now_us, now_us)
        self._hand_over()
        queues = tuple(self.queues[name].snapshot(now_us) for name in sorted(self.queues))
        if let_go:
            for state in self.queues.values():
                state.forget(now_us)
            self._forget(now_us)
        return Snapshot(now_us, queues, self.stats.snapshot())

    def _apply_call(self, event: Event) -> bool:
        call_id = event.call_id
        assert call_id is not None
        record = self.calls.get(call_id)
        if record is None:
            record = self.calls[call_id] = CallRecord(call_id)
        touched = record.apply(event)
        if touched:
            changed = self._changed_visits
            for queue in touched:
                changed[call_id, queue] = record
        return touched is not None

    def _apply_agent(self, event: Event) -> bool:
        assert event.agent_id is not None
        history = self.agents.get(event.agent_id)
        if history is None:
            history = self.agents[event.agent_id] = AgentHistory(event.agent_id)
        if not history.add(event):
            return False
        self._changed_agents[event.agent_id] = history
        return True

    def _hand_over(self) -> None:
        """Give queues the visits and agents changed since the last hand-over."""
        for (_, queue), record in self._changed_visits.items():
            self.queue(queue).apply_visit(record.visit(queue))
        for history in self._changed_agents.values():
            for queue in history.all_queues():
                self.queue(queue).apply_agent(history)
        self._changed_visits.clear()
        self._changed_agents.clear()

    def _forget(self, now_us: int) -> None:
        limits = self.settings.limits
        oldest = now_us - limits.forget_call_after_us
        for call_id in [c for c, r in self.calls.items() if r.last_us < oldest]:
            del self.calls[call_id]
        for history in self.agents.values():
            history.forget_before(now_us)
        oldest = now_us - limits.forget_agent_after_us
        for agent_id in [a for a, h in self.agents.items() if h.changes[-1][0] < oldest]:
            del self.agents[agent_id]
