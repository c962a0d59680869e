"""Per-agent state: the agent's recent ``agent.state`` events, read at any instant.

The state at ``now`` is the latest event at or before ``now`` (ties broken by event id), and
the queues served are those of the latest such event that lists them ("when absent, the last
known list stands"). An agent silent for longer than the maximum age is gone, and one that
comes back after such a silence starts afresh: its queue list must be sent again.

A history keeps the changes of its newest ``keep_us`` (:meth:`AgentHistory.trim`), without
the heartbeats that change nothing once they are older than ``place_us``: an event older than
that can no longer be placed and is refused (:meth:`AgentHistory.placeable`). Queues and the
board are told its :class:`~metrics.agent_timeline.AgentTimeline`, which answers "what state,
since when, how long?". Usage::

    history = AgentHistory("a1")
    history.add(event)
    history.timeline(max_age_us).current(now_us, max_age_us)  # (Phase(...), since_us) or None
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort
from typing import Any

from metrics.agent_timeline import AgentTimeline, Phase
from metrics.contract.events import Event
from metrics.sharing import QUEUE_LISTS

# (time, event id, state, queues or None, reason or None)
StateChange = tuple[int, str, str, tuple[str, ...] | None, str | None]
_LAST_ID = "\U0010ffff"  # sorts after every event id: (t, _LAST_ID) is after every change at t


class AgentHistory:
    """The state changes of one agent still needed to answer "what state, since when, how long?"."""

    __slots__ = (
        "_effective",
        "agent_id",
        "base_queues",
        "base_since_us",
        "changes",
        "placed_from_us",
        "served",
    )

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.changes: list[StateChange] = []
        self.served: set[str] = set()  # every queue ever listed, even in changes trimmed
        # What the trimmed changes leave: the queues served, and since when the state held,
        # at the first change kept (None: nothing trimmed).
        self.base_queues: tuple[str, ...] = ()
        self.base_since_us: int | None = None
        # per change: the queues served and since when its state held; made when first asked
        self._effective: list[tuple[tuple[str, ...], int]] | None = None
        self.placed_from_us: int | None = None  # heartbeats before this are left out already

    def add(self, event: Event) -> bool:
        """Record a state event; ``False`` for a duplicate."""
        if self._holds(event.id, event.time_us):
            return False
        assert event.state is not None
        insort(self.changes, (event.time_us, event.id, event.state, event.queues, event.reason))
        self.served.update(event.queues or ())
        self._changed()
        return True

    def _changed(self) -> None:
        self._effective = None

    def placeable(self, event: Event, place_us: int) -> bool:
        """Whether the event is no older than the newest change by more than ``place_us``.

        Decided by the events alone, never by when the history was last trimmed, so that a
        worker's batches and a replay refuse the same events; every change from there on is
        still kept (:meth:`trim` never leaves out more), so a re-sent one is found."""
        return not self.changes or event.time_us >= self.newest_us() - place_us

    def _holds(self, event_id: str, time_us: int) -> bool:
        """Whether a change kept is this event (a re-sent event keeps its id and time): looked
        up by time, so that no set of ids is held and a flood of one agent's events stays
        cheap (the ids of changes left out are forgotten with them)."""
        changes = self.changes
        index = bisect_left(changes, (time_us,))
        while index < len(changes) and changes[index][0] == time_us:
            if changes[index][1] == event_id:
                return True
            index += 1
        return False

    def all_queues(self) -> set[str]:
        """Every queue the agent ever served: the queues that must hear of any change."""
        return self.served

    def newest_us(self) -> int:
        return self.changes[-1][0] if self.changes else 0

    def _listed(self, index: int, max_age_us: int) -> tuple[str, ...]:
        """The latest queue list at or before change ``index``, back to the last long silence."""
        return self._effective_at(max_age_us)[index][0]

    def _since(self, index: int, max_age_us: int) -> int:
        """When the run of changes with the state and reason of change ``index`` began."""
        return self._effective_at(max_age_us)[index][1]

    def _effective_at(self, max_age_us: int) -> list[tuple[tuple[str, ...], int]]:
        """Each change's queues served and run start, in one pass (snapshots ask for every agent
        in every queue it serves; walking back each time was most of a snapshot)."""
        if self._effective is not None:
            return self._effective
        effective: list[tuple[tuple[str, ...], int]] = []
        queues, since = self.base_queues, self.base_since_us
        previous: StateChange | None = None
        for change in self.changes:
            silent = previous is not None and change[0] - previous[0] > max_age_us
            if silent:
                queues = ()
            if change[3] is not None:
                queues = change[3]
            same_run = previous is not None and not silent and previous[2::2] == change[2::2]
            if (previous is not None and not same_run) or since is None:
                since = change[0]
            effective.append((queues, since))
            previous = change
        self._effective = effective
        return effective

    def trim(self, keep_us: int, place_us: int, max_age_us: int, reached_us: int | None = None) -> None:
        """Drop the changes before the newest one (or ``reached_us``, if earlier: instants from
        there on are still asked about) by more than ``keep_us``, keeping the change in effect
        then (what they said, queues served and since when, stays in ``base_*``); and leave out
        the heartbeats older than ``place_us`` before it (:meth:`compact`). Events older than
        that can no longer be placed."""
        if not self.changes:
            return
        anchor = self.newest_us() if reached_us is None else min(self.newest_us(), reached_us)
        self._drop_before(anchor - keep_us, max_age_us)
        placed_from, before = anchor - place_us, self.placed_from_us
        if before is None or placed_from > before:
            self.placed_from_us = placed_from
            self.compact(placed_from, max_age_us, before)
            self._forget_ids(before, placed_from)

    def _forget_ids(self, from_us: int | None, before_us: int) -> None:
        """An event older than ``before_us`` is refused (:meth:`placeable`) before it could be
        found a duplicate, so the ids of the changes before then are never read again: they
        go (an id was a third of a change's memory). The changes keep their order."""
        changes = self.changes
        start = 0 if from_us is None else bisect_left(changes, (from_us,))
        for index in range(start, bisect_left(changes, (before_us,))):
            at, _, state, queues, reason = changes[index]
            changes[index] = (at, "", state, queues, reason)

    def _drop_before(self, cutoff_us: int, max_age_us: int) -> None:
        index = bisect_right(self.changes, (cutoff_us, _LAST_ID)) - 1
        if index <= 0:
            return
        self.base_queues = self._listed(index, max_age_us)
        self.base_since_us = self._since(index, max_age_us)
        del self.changes[:index]
        self._changed()

    def compact(self, before_us: int, max_age_us: int, from_us: int | None = None) -> None:
        """Leave out the changes from ``from_us`` to ``before_us`` that change nothing: a
        heartbeat (the state, reason and queues in effect, said again) whose leaving out moves
        no instant at which the agent is gone. Every segment sum, state and "since" stays as it
        was, so leaving any of them out at any time is safe."""
        changes = self.changes
        if len(changes) < 3:
            return  # the first and the last are always kept
        start = 1 if from_us is None else max(1, bisect_right(changes, (from_us, "")))
        if start >= len(changes) - 1 or changes[start][0] >= before_us:
            return
        effective = self._effective_at(max_age_us)
        kept, dropped = changes[:start], 0
        for index in range(start, len(changes)):
            change, last = changes[index], kept[-1]
            following = changes[index + 1][0] if index + 1 < len(changes) else None
            if (
                change[0] < before_us
                and following is not None
                and change[2::2] == last[2::2]
                and change[3] in (None, effective[index][0])
                and effective[index][0] == effective[index - 1][0]
                and following - last[0] <= max_age_us
            ):
                dropped += 1
            else:
                kept.append(change)
        if dropped:
            self.changes = kept
            self._changed()

    def timeline(self, max_age_us: int) -> AgentTimeline:
        """What queues and the board are told: the changes without the heartbeats that change
        nothing (nobody told places events, so nothing later needs them) and without ids."""
        twin = self.copy()
        twin.compact(2**63, max_age_us, self.placed_from_us)  # before it: compacted already
        effective = twin._effective_at(max_age_us)
        phases = [Phase(c[2], c[4], queues) for c, (queues, _) in zip(twin.changes, effective, strict=True)]
        return AgentTimeline(self.agent_id, [c[0] for c in twin.changes], phases, twin.base_since_us)

    def copy(self) -> AgentHistory:
        """A copy that later changes to this one leave alone (what a queue was last told)."""
        twin = AgentHistory(self.agent_id)
        twin.changes, twin.served = list(self.changes), set(self.served)
        twin.base_queues, twin.base_since_us = self.base_queues, self.base_since_us
        twin.placed_from_us = self.placed_from_us
        return twin

    def to_json(self) -> list[Any]:
        changes = [list(c) for c in self.changes]
        base = [list(self.base_queues), self.base_since_us, self.placed_from_us]
        return [self.agent_id, changes, sorted(self.served), *base]

    @classmethod
    def from_json(cls, row: list[Any]) -> AgentHistory:
        history = cls(row[0])
        for at, event_id, state, queues, *reason in row[1]:  # no reason: stored before reasons were kept
            listed = QUEUE_LISTS.share(tuple(queues)) if queues is not None else None
            said = sys.intern(reason[0]) if reason and reason[0] is not None else None
            history.changes.append((at, event_id, sys.intern(state), listed, said))
        history.served = set(row[2])
        if len(row) > 3:
            history.base_queues, history.base_since_us = QUEUE_LISTS.share(tuple(row[3])), row[4]
        if len(row) > 5:
            history.placed_from_us = row[5]
        return history


Told = AgentTimeline | AgentHistory  # a history: what versions before timelines told


def told_from_json(data: dict[str, Any] | list[Any]) -> Told:
    """What a queue or the board was told, as stored or sent: a timeline, or (a list) a history
    told by a version before timelines (a restart across the upgrade reads those)."""
    return AgentTimeline.from_json(data) if isinstance(data, dict) else AgentHistory.from_json(data)


def as_timeline(told: Told, max_age_us: int) -> AgentTimeline:
    """The timeline of what was told (a told history's changes are all it says)."""
    return told if isinstance(told, AgentTimeline) else told.timeline(max_age_us)
