"""The per-queue step: the queues one worker (or a replay) owns, by partition of the queue topic.

It applies :class:`~metrics.steps.messages.QueueUpdate` messages to each queue's
:class:`~metrics.queue_state.QueueState`, takes snapshots, lets old state expire, and packs
quiet visits into its :class:`~metrics.storage.cold_visits.ColdVisits`. Usage::

    queues = QueueStep(settings)
    stored = queues.apply(update, partition=0)   # (key, visit or agent): for the worker's tables
    queues.snapshot(now_us)                      # or queues.each_snapshot(now_us), one at a time
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from metrics.agent_timeline import AgentTimeline
from metrics.agents import AgentHistory, as_timeline
from metrics.callers import Verdict
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import QueueSnapshot
from metrics.steps.messages import QueueUpdate
from metrics.storage.cold_pairs import ColdReader
from metrics.storage.cold_visits import ColdVisits, split_key, visit_key
from metrics.storage.packing import COLD_AFTER_US
from metrics.visits import Visit

Stored = tuple[str, Visit | AgentTimeline]  # a queue-side table key and its value


@dataclass
class QueuesExpired:
    """Queue-side keys of what one partition's queues expired, and the new settled sums of queues that
    let visits go (the worker deletes the keys and stores the sums)."""

    visits: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    settled: dict[str, Settled] = field(default_factory=dict)


class QueueStep:
    """The queues owned here, each with the partition it came from."""

    def __init__(self, settings: Settings, cold: ColdVisits | None = None) -> None:
        self.settings = settings
        self.cold = ColdVisits(None, settings) if cold is None else cold
        self.states: dict[str, QueueState] = {}
        self.partition: dict[str, int] = {}

    def apply(self, update: QueueUpdate, partition: int) -> list[Stored]:
        """Apply one update; return the queue-side keys and values to store."""
        state = self.state(update.queue, partition)
        stored: list[Stored] = []
        if update.kind == "visits":
            for visit in update.states:
                assert isinstance(visit, Visit)
                stored.append((visit_key(update.queue, visit.call_id), state.apply_visit(visit)))
        elif update.kind == "verdicts":
            for verdict in update.states:
                assert isinstance(verdict, Verdict)
                stored.append((visit_key(update.queue, verdict.call_id), state.apply_verdict(verdict)))
        else:
            for told in update.states:
                assert isinstance(told, AgentTimeline | AgentHistory)
                timeline = as_timeline(told, self.settings.limits.max_agent_age_us)
                state.apply_agent(timeline)
                stored.append((visit_key(update.queue, timeline.agent_id), timeline))
        return stored

    def snapshot(self, now_us: int) -> tuple[QueueSnapshot, ...]:
        return tuple(self.each_snapshot(now_us))

    def each_snapshot(self, now_us: int) -> Iterator[QueueSnapshot]:
        """The queues' snapshots at ``now_us`` one at a time, by name (the worker gives its
        event loop turns between them): a queue given up meanwhile is left out, one new
        meanwhile waits for the next snapshot."""
        states = self.states
        for name in sorted(states):
            state = states.get(name)
            if state is not None:
                yield state.snapshot(now_us)

    def keep_partitions(self, owned: set[int]) -> None:
        """Drop queues whose partition this worker no longer owns (no stale series)."""
        for queue in [q for q, p in self.partition.items() if p not in owned]:
            del self.states[queue], self.partition[queue]

    def expire(self, partition: int, now_us: int) -> QueuesExpired:
        """Expire old state in one partition's queues, hot and cold."""
        expired = QueuesExpired()
        for queue, state in self._owned(partition):
            gone = state.expire(now_us)
            self.cold.delete(queue, gone.calls)  # older copies of visits that had turned hot again
            expired.visits += [visit_key(queue, call_id) for call_id in gone.calls]
            expired.agents += [visit_key(queue, agent_id) for agent_id in gone.agents]
        for visit in self.cold.expire(partition, now_us):
            owner = self.states.get(visit.queue)
            if owner is not None and owner.expire_cold(visit, now_us):
                expired.visits.append(visit_key(visit.queue, visit.call_id))
        expired.settled = {queue: sums for queue, sums, _ in self.settled_changes(partition)}
        return expired

    def settled_changes(self, partition: int | None = None) -> list[tuple[str, Settled, int]]:
        """The queues (of one partition, or all) whose settled sums changed since last asked
        (visits expired, agents' changes trimmed): (queue, sums, partition)."""
        changed = []
        for queue, state in self.states.items():
            owner = self.partition[queue]
            if state.settled_changed and partition in (None, owner):
                state.settled_changed = False
                changed.append((queue, state.settled, owner))
        return changed

    def pack(self, partition: int, now_us: int) -> list[str]:
        """Move one partition's visits quiet for ``COLD_AFTER_US`` to the cold store; their keys."""
        packed: list[str] = []
        for _, state in self._owned(partition):
            packed += self.cold.put(partition, state.release_quiet(now_us - COLD_AFTER_US))
        return packed

    def rebuild(
        self,
        items: Iterable[tuple[str, Visit | AgentTimeline | AgentHistory]],
        cold: Iterable[Visit],
        settled: Iterable[tuple[str, Settled]],
        partition_of: dict[str, int],
        now_us: int,
    ) -> None:
        """Restore owned queues after recovery (``partition_of``: queue to partition).

        From their settled sums, the ``cold`` store's visits, then the hot ``items`` (visits
        and agents), which replace their cold copies. Windows start at ``now_us`` first, as a
        running worker's are: hours of contributions too old for any window then go straight
        into the sums instead of into buckets that the first snapshot would drop. (Those
        buckets, made and dropped in their millions, left a restarted worker's heap full of holes.)
        """
        for queue, sums in settled:
            if queue in partition_of:
                self.state(queue, partition_of[queue]).restore_settled(sums)
        for queue, partition in partition_of.items():
            self.state(queue, partition).sums.advance(now_us)
        for visit in cold:
            if visit.queue in partition_of:
                self.state(visit.queue, partition_of[visit.queue]).restore_cold(visit)
        for key, value in items:
            queue = split_key(key)[0]
            if queue not in partition_of:
                continue
            state = self.state(queue, partition_of[queue])
            if isinstance(value, Visit):
                state.apply_visit(value)
            else:
                state.apply_agent(as_timeline(value, self.settings.limits.max_agent_age_us))
        for state in self.states.values():
            state.settled_changed = False  # as stored

    def state(self, queue: str, partition: int) -> QueueState:
        """The queue's state, made when first needed; it is now owned from ``partition``."""
        state = self.states.get(queue)
        if state is None:
            state = self.states[queue] = QueueState(queue, self.settings, ColdReader(self.cold, queue))
        self.partition[queue] = partition
        return state

    def _owned(self, partition: int) -> list[tuple[str, QueueState]]:
        return [(q, state) for q, state in self.states.items() if self.partition[q] == partition]
