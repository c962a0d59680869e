"""What queues and the agent board are told of an agent: its timeline, compact and immutable.

The agent step keeps each agent's :class:`~metrics.agents.AgentHistory`, with event ids, to
place and de-duplicate events. Queues and the board only read what it says: the state in
effect at an instant and since when, and the segments of time in state. A timeline holds
just that: the instant of each change (heartbeats that change nothing left out) in an
``array``, and per change a shared :class:`Phase` (state, reason, queues served): about 16
bytes a change, where a copy of the history with its cached segments took about 300. Usage::

    timeline = history.timeline(max_age_us)
    timeline.current(now_us, max_age_us)  # (Phase("available", None, ("sales",)), since_us) or None
    timeline.segments(max_age_us)         # [Segment(start_us, end_us, "available", None, ("sales",))]
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

from metrics.sharing import QUEUE_LISTS, Shared

FOREVER_US: Final = 2**63


class Phase(NamedTuple):
    """What a change says: the state, its reason, and the queues served from then on."""

    state: str
    reason: str | None
    queues: tuple[str, ...]


class Segment:
    """Time the agent spent in one state: from a change to the next, or until it was gone.

    A plain class, not a named tuple: made about once an event and read at once, it is a
    native class in the compiled build, built in a tenth of a named tuple's time (which calls
    the interpreted ``__new__`` namedtuple writes).

    >>> Segment(0, 60_000_000, "on_call", None, ("sales",)).end_us
    60000000
    """

    __slots__ = ("end_us", "queues", "reason", "start_us", "state")

    def __init__(
        self, start_us: int, end_us: int, state: str, reason: str | None, queues: tuple[str, ...]
    ) -> None:
        self.start_us = start_us
        self.end_us = end_us
        self.state = state
        self.reason = reason
        self.queues = queues

    def _fields(self) -> tuple[int, int, str, str | None, tuple[str, ...]]:
        return self.start_us, self.end_us, self.state, self.reason, self.queues

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Segment):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        return "Segment(start_us={!r}, end_us={!r}, state={!r}, reason={!r}, queues={!r})".format(
            *self._fields()
        )


def _interned(phase: Phase) -> Phase:
    """The phase with its strings interned and its queue list shared, as histories' are:
    one copy each, whatever decoded them."""
    state, reason, queues = phase
    said = None if reason is None else sys.intern(reason)
    return Phase(sys.intern(state), said, QUEUE_LISTS.share(queues))


PHASES: Final = Shared(_interned)  # thousands of agents say the same few things


class AgentTimeline:
    """An agent's changes as queues and the board read them; never changed once made.

    ``base_since_us`` is since when the first change's state held (its run may have begun in
    changes trimmed before it); ``None`` when it began at the first change.
    """

    __slots__ = ("agent_id", "base_since_us", "phases", "starts")

    def __init__(
        self, agent_id: str, starts: Iterable[int], phases: Iterable[Phase], base_since_us: int | None = None
    ) -> None:
        self.agent_id = sys.intern(agent_id)
        self.starts = array("q", starts)
        self.phases = [PHASES.share(phase) for phase in phases]
        self.base_since_us = base_since_us

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AgentTimeline):
            return NotImplemented
        return self._fields() == other._fields()

    def _fields(self) -> tuple[str, int | None, array[int], list[Phase]]:
        return self.agent_id, self.base_since_us, self.starts, self.phases

    def __repr__(self) -> str:
        return f"AgentTimeline({self.agent_id!r}, {len(self.starts)} changes)"

    def newest_us(self) -> int:
        return self.starts[-1] if self.starts else 0

    def current(self, now_us: int, max_age_us: int) -> tuple[Phase, int] | None:
        """The phase in effect at ``now_us`` and since when its state and reason hold
        (a change of queues alone does not restart it); ``None`` if unknown or gone."""
        index = bisect_right(self.starts, now_us) - 1
        if index < 0 or now_us - self.starts[index] > max_age_us:
            return None
        return self.phases[index], self._since(index, max_age_us)

    def _since(self, index: int, max_age_us: int) -> int:
        starts, phases = self.starts, self.phases
        while index > 0 and phases[index - 1][:2] == phases[index][:2]:
            if starts[index] - starts[index - 1] > max_age_us:
                return starts[index]  # gone in between: the run began again
            index -= 1
        if index == 0 and self.base_since_us is not None:
            return self.base_since_us
        return starts[index]

    def next_boundary_us(self, now_us: int, max_age_us: int) -> int:
        """The first instant after ``now_us`` at which the state or queues may read differently:
        the next change, or the instant the agent is gone."""
        index = bisect_right(self.starts, now_us)
        boundary = self.starts[index] if index < len(self.starts) else FOREVER_US
        if index > 0 and self.starts[index - 1] + max_age_us >= now_us:  # gone when over the maximum age
            boundary = min(boundary, self.starts[index - 1] + max_age_us + 1)
        return boundary

    def segments(
        self, max_age_us: int, queue: str | None = None, first: int = 0, last: int | None = None
    ) -> list[Segment]:
        """The segments of changes ``first`` to ``last`` (excluded), each lasting until the
        next change or until the agent is gone (``max_age_us`` after it); a queue's only."""
        starts, count = self.starts, len(self.starts)
        found = []
        for index in range(first, count if last is None else last):
            phase, at = self.phases[index], starts[index]
            end = at + max_age_us if index + 1 == count else min(starts[index + 1], at + max_age_us)
            if queue is None or queue in phase.queues:
                found.append(Segment(at, end, phase.state, phase.reason, phase.queues))
        return found

    def split(self, index: int, at_us: int) -> AgentTimeline:
        """A copy with a change at ``at_us`` (before change ``index``) that says again what the
        change before it said: the same time in each state, cut in two segments there."""
        starts, phases = list(self.starts), list(self.phases)
        starts.insert(index, at_us)
        phases.insert(index, phases[index - 1])
        return AgentTimeline(self.agent_id, starts, phases, self.base_since_us)

    def to_json(self) -> dict[str, Any]:
        """Each distinct phase once, and each change as an index into them."""
        index: dict[Phase, int] = {}
        said = [index.setdefault(phase, len(index)) for phase in self.phases]
        phases = [[p.state, p.reason, list(p.queues)] for p in index]
        return {
            "agent": self.agent_id,
            "since": self.base_since_us,
            "at": list(self.starts),
            "said": said,
            "phases": phases,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentTimeline:
        phases = [
            PHASES.share(Phase(state, reason, tuple(queues))) for state, reason, queues in data["phases"]
        ]
        return cls(data["agent"], data["at"], (phases[i] for i in data["said"]), data["since"])
