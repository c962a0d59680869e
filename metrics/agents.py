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
from array import array
from bisect import bisect_left, bisect_right
from typing import Any, Final, NamedTuple

from metrics.agent_timeline import AgentTimeline, Phase
from metrics.contract.events import Event
from metrics.sharing import QUEUE_LISTS, Shared

# (time, event id, state, queues or None, reason or None): a change as tests and the changelog see it
StateChange = tuple[int, str, str, tuple[str, ...] | None, str | None]


class Said(NamedTuple):
    """What an ``agent.state`` event said: the state, the queues listed (``None``: the last
    known list stands) and the reason."""

    state: str
    queues: tuple[str, ...] | None
    reason: str | None


def _interned(said: Said) -> Said:
    state, queues, reason = said
    listed = None if queues is None else QUEUE_LISTS.share(queues)
    return Said(sys.intern(state), listed, None if reason is None else sys.intern(reason))


SAYINGS: Final = Shared(_interned)  # thousands of agents say the same few things, every heartbeat
# Named tuples made with tuple.__new__, as metrics.contract.decode makes events: calling the
# class runs the interpreted __new__ namedtuple writes, even in the compiled build (3x the time).
_new: Final = tuple.__new__


def _same_saying(one: Said, other: Said) -> bool:
    """The same state and reason (the queues listed aside)."""
    return one.state == other.state and one.reason == other.reason


class AgentHistory:
    """The state changes of one agent still needed to answer "what state, since when, how long?".

    The changes are kept as columns, in order of (time, event id): their instants in an
    ``array``, their event ids, and what each said (a shared :class:`Said`). A change is
    24 bytes and its id, where a tuple of the five took about 150 (and as many small objects
    for the allocator to keep apart).
    """

    __slots__ = (
        "_effective",
        "_ids",
        "_said",
        "_times",
        "agent_id",
        "base_queues",
        "base_since_us",
        "placed_from_us",
        "served",
    )

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self._times = array("q")
        self._ids: list[str] = []
        self._said: list[Said] = []
        self.served: set[str] = set()  # every queue ever listed, even in changes trimmed
        # What the trimmed changes leave: the queues served, and since when the state held,
        # at the first change kept (None: nothing trimmed).
        self.base_queues: tuple[str, ...] = ()
        self.base_since_us: int | None = None
        # per change: the queues served and since when its state held; made when first asked
        self._effective: tuple[list[tuple[str, ...]], array[int]] | None = None
        self.placed_from_us: int | None = None  # heartbeats before this are left out already

    @property
    def changes(self) -> list[StateChange]:
        """The changes kept, oldest first, each as one tuple."""
        columns = zip(self._times, self._ids, self._said, strict=True)
        return [(at, event_id, s.state, s.queues, s.reason) for at, event_id, s in columns]

    def add(self, event: Event) -> bool:
        """Record a state event; ``False`` for a duplicate."""
        if self._holds(event.id, event.time_us):
            return False
        assert event.state is not None
        said = SAYINGS.share(_new(Said, (event.state, event.queues, event.reason)))
        self._insert(event.time_us, event.id, said)
        self.served.update(event.queues or ())
        self._changed()
        return True

    def _insert(self, time_us: int, event_id: str, said: Said) -> None:
        """In order of (time, event id), after the changes of the same instant and id."""
        index = bisect_left(self._times, time_us)
        while index < len(self._times) and self._times[index] == time_us and self._ids[index] <= event_id:
            index += 1
        self._times.insert(index, time_us)
        self._ids.insert(index, event_id)
        self._said.insert(index, said)

    def _changed(self) -> None:
        self._effective = None

    def placeable(self, event: Event, place_us: int) -> bool:
        """Whether the event is no older than the newest change by more than ``place_us``.

        Decided by the events alone, never by when the history was last trimmed, so that a
        worker's batches and a replay refuse the same events; every change from there on is
        still kept (:meth:`trim` never leaves out more), so a re-sent one is found."""
        return not self._times or event.time_us >= self.newest_us() - place_us

    def _holds(self, event_id: str, time_us: int) -> bool:
        """Whether a change kept is this event (a re-sent event keeps its id and time): looked
        up by time, so that no set of ids is held and a flood of one agent's events stays
        cheap (the ids of changes left out are forgotten with them)."""
        times = self._times
        index = bisect_left(times, time_us)
        while index < len(times) and times[index] == time_us:
            if self._ids[index] == event_id:
                return True
            index += 1
        return False

    def all_queues(self) -> set[str]:
        """Every queue the agent ever served: the queues that must hear of any change."""
        return self.served

    def newest_us(self) -> int:
        return self._times[-1] if self._times else 0

    def _effective_at(self, max_age_us: int) -> tuple[list[tuple[str, ...]], array[int]]:
        """Each change's queues served and run start, in one pass (snapshots ask for every agent
        in every queue it serves; walking back each time was most of a snapshot)."""
        if self._effective is None:
            self._effective = self._walk(max_age_us)
        return self._effective

    def _walk(self, max_age_us: int) -> tuple[list[tuple[str, ...]], array[int]]:
        listed: list[tuple[str, ...]] = []
        runs_since = array("q")
        queues, since = self.base_queues, self.base_since_us
        previous_at, previous = 0, None
        for at, said in zip(self._times, self._said, strict=True):
            silent = previous is not None and at - previous_at > max_age_us
            if silent:
                queues = ()
            if said.queues is not None:
                queues = said.queues
            same_run = previous is not None and not silent and _same_saying(previous, said)
            if (previous is not None and not same_run) or since is None:
                since = at
            listed.append(queues)
            runs_since.append(since)
            previous_at, previous = at, said
        return listed, runs_since

    def trim(self, keep_us: int, place_us: int, max_age_us: int, reached_us: int | None = None) -> None:
        """Drop the changes before the newest one (or ``reached_us``, if earlier: instants from
        there on are still asked about) by more than ``keep_us``, keeping the change in effect
        then (what they said, queues served and since when, stays in ``base_*``); and leave out
        the heartbeats older than ``place_us`` before it (:meth:`compact`). Events older than
        that can no longer be placed."""
        if not self._times:
            return
        anchor = self.newest_us() if reached_us is None else min(self.newest_us(), reached_us)
        self._drop_before(anchor - keep_us, max_age_us)
        placed_from, before = anchor - place_us, self.placed_from_us
        if before is None or placed_from > before:
            self.placed_from_us = placed_from
            self.compact(placed_from, max_age_us, before)
            self._forget_ids(before, placed_from)
        self._changed()  # what was worked out for trimming is not kept: 16 bytes a change

    def _forget_ids(self, from_us: int | None, before_us: int) -> None:
        """An event older than ``before_us`` is refused (:meth:`placeable`) before it could be
        found a duplicate, so the ids of the changes before then are never read again: they
        go (an id was most of a change's memory). The changes keep their order."""
        start = 0 if from_us is None else bisect_left(self._times, from_us)
        end = bisect_left(self._times, before_us)
        if end > start:
            self._ids[start:end] = [""] * (end - start)

    def _drop_before(self, cutoff_us: int, max_age_us: int) -> None:
        index = bisect_right(self._times, cutoff_us) - 1
        if index <= 0:
            return
        listed, runs_since = self._effective_at(max_age_us)
        self.base_queues, self.base_since_us = listed[index], runs_since[index]
        del self._times[:index], self._ids[:index], self._said[:index]
        self._changed()

    def compact(self, before_us: int, max_age_us: int, from_us: int | None = None) -> None:
        """Leave out the changes from ``from_us`` to ``before_us`` that change nothing: a
        heartbeat (the state, reason and queues in effect, said again) whose leaving out moves
        no instant at which the agent is gone. Every segment sum, state and "since" stays as it
        was, so leaving any of them out at any time is safe."""
        times = self._times
        if len(times) < 3:
            return  # the first and the last are always kept
        start = 1 if from_us is None else max(1, bisect_left(times, from_us))
        if start >= len(times) - 1 or times[start] >= before_us:
            return
        kept = self._kept_from(start, before_us, max_age_us)
        if len(kept) < len(times) - start:
            self._keep(start, kept)

    def _kept_from(self, start: int, before_us: int, max_age_us: int) -> list[int]:
        """The changes from ``start`` on that :meth:`compact` keeps, by index."""
        times, said, listed = self._times, self._said, self._effective_at(max_age_us)[0]
        kept, last = [], start - 1
        for index in range(start, len(times)):
            following = times[index + 1] if index + 1 < len(times) else None
            if not (
                times[index] < before_us
                and following is not None
                and _same_saying(said[index], said[last])
                and said[index].queues in (None, listed[index])
                and listed[index] == listed[index - 1]
                and following - times[last] <= max_age_us
            ):
                kept.append(index)
                last = index
        return kept

    def _keep(self, start: int, kept: list[int]) -> None:
        times, ids, said = self._times, self._ids, self._said
        self._times = times[:start] + array("q", [times[i] for i in kept])
        self._ids = ids[:start] + [ids[i] for i in kept]
        self._said = said[:start] + [said[i] for i in kept]
        self._changed()

    def timeline(self, max_age_us: int) -> AgentTimeline:
        """What queues and the board are told: the changes without the heartbeats that change
        nothing (nobody told places events, so nothing later needs them) and without ids."""
        twin = self.copy()
        twin.compact(2**63, max_age_us, self.placed_from_us)  # before it: compacted already
        listed = twin._effective_at(max_age_us)[0]
        saying = zip(twin._said, listed, strict=True)
        phases = [_new(Phase, (s.state, s.reason, queues)) for s, queues in saying]
        return AgentTimeline(self.agent_id, twin._times, phases, twin.base_since_us)

    def copy(self) -> AgentHistory:
        """A copy that later changes to this one leave alone (what a queue was last told)."""
        twin = AgentHistory(self.agent_id)
        twin._times, twin._ids, twin._said = array("q", self._times), list(self._ids), list(self._said)
        twin.served = set(self.served)
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
            listed = None if queues is None else tuple(queues)
            history._times.append(at)
            history._ids.append(event_id)
            history._said.append(SAYINGS.share(Said(state, listed, reason[0] if reason else None)))
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
