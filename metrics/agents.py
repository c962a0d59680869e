"""Per-agent state: the agent's recent ``agent.state`` events, read at any instant.

The state at ``now`` is the latest event at or before ``now`` (ties broken by event id), and
the queues served are those of the latest such event that lists them ("when absent, the last
known list stands"). An agent silent for longer than the maximum age is gone, and one that
comes back after such a silence starts afresh: its queue list must be sent again. Usage::

    history = AgentHistory("a1")
    history.add(event)
    history.at(now_us, max_age_us)      # ("available", ("sales",)) or None
"""

from __future__ import annotations

from bisect import bisect_right, insort
from typing import Any

from metrics.contract.events import Event

# (time, event id, state, queues or None)
StateChange = tuple[int, str, str, tuple[str, ...] | None]


class AgentHistory:
    """The state changes of one agent still needed to answer "what state at now?"."""

    __slots__ = ("_event_ids", "agent_id", "changes", "served")

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.changes: list[StateChange] = []
        self._event_ids: set[str] | None = None  # the ids of ``changes``, made when first needed
        self.served: set[str] = set()  # every queue ever listed, even in changes expired

    def add(self, event: Event) -> bool:
        """Record a state event; ``False`` for a duplicate."""
        event_ids = self._ids()
        if event.id in event_ids:
            return False
        event_ids.add(event.id)
        assert event.state is not None
        insort(self.changes, (event.time_us, event.id, event.state, event.queues))
        self.served.update(event.queues or ())
        return True

    def _ids(self) -> set[str]:
        # Only the agent step adds events; the queues' copies of an agent never need the set.
        if self._event_ids is None:
            self._event_ids = {change[1] for change in self.changes}
        return self._event_ids

    def all_queues(self) -> set[str]:
        """Every queue the agent ever served: the queues that must hear of any change."""
        return self.served

    def at(self, now_us: int, max_age_us: int) -> tuple[str, tuple[str, ...]] | None:
        """The state and served queues at ``now_us``, or ``None`` if unknown or gone."""
        index = bisect_right(self.changes, (now_us, "\U0010ffff"))
        if index == 0 or now_us - self.changes[index - 1][0] > max_age_us:
            return None
        return self.changes[index - 1][2], self._listed(index - 1, max_age_us)

    def _listed(self, index: int, max_age_us: int) -> tuple[str, ...]:
        """The latest queue list at or before change ``index``, back to the last long silence."""
        while True:
            queues = self.changes[index][3]
            if queues is not None:
                return queues
            if index == 0 or self.changes[index][0] - self.changes[index - 1][0] > max_age_us:
                return ()
            index -= 1

    def expire_before(self, now_us: int) -> None:
        """Drop changes that can no longer matter to instants at or after ``now_us``."""
        index = bisect_right(self.changes, (now_us, "\U0010ffff"))
        keep_from = max(0, index - 1)
        listed = [i for i in range(index) if self.changes[i][3] is not None]
        if listed:
            keep_from = min(keep_from, listed[-1])
        dropped = self.changes[:keep_from]
        del self.changes[:keep_from]
        if self._event_ids is not None:
            self._event_ids.difference_update(change[1] for change in dropped)

    def to_json(self) -> list[Any]:
        return [self.agent_id, [list(c) for c in self.changes], sorted(self.served)]

    @classmethod
    def from_json(cls, row: list[Any]) -> AgentHistory:
        history = cls(row[0])
        for at, event_id, state, queues in row[1]:
            change = (at, event_id, state, tuple(queues) if queues is not None else None)
            history.changes.append(change)
        history.served = set(row[2])
        return history
