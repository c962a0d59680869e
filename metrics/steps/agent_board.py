"""The per-agent board step: the agents one worker (or a replay) owns, by partition of the agents.

It is told each agent's timeline by the agent step and each of its calls by the call step
(:class:`~metrics.agent_calls.AgentCall`, sent on keyed by agent), keeps an
:class:`~metrics.agent_ledger.AgentLedger` per agent, and reads the agent list. Usage::

    board = AgentBoard(settings)
    board.apply(timeline, partition=0)     # an AgentTimeline, or an AgentCall
    board.snapshot(now_us)                 # (AgentSnapshot, ...) sorted by agent
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from metrics.agent_calls import AgentCall
from metrics.agent_ledger import AgentLedger
from metrics.agent_timeline import AgentTimeline
from metrics.agents import Told, as_timeline
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import AgentSnapshot
from metrics.storage.cold_agent_calls import ColdAgentCalls
from metrics.storage.cold_pairs import ColdReader
from metrics.storage.packing import COLD_AFTER_US

BoardState = Told | AgentCall


class AgentBoard:
    """The agents owned here, each with the partition it came from."""

    def __init__(self, settings: Settings, cold: ColdAgentCalls | None = None) -> None:
        self.settings = settings
        self.cold = ColdAgentCalls(None, settings) if cold is None else cold
        self.ledgers: dict[str, AgentLedger] = {}
        self.partition: dict[str, int] = {}

    def apply(self, state: BoardState, partition: int) -> AgentTimeline | AgentCall:
        """Apply an agent's timeline (or a history, as told before timelines) or one of its
        calls; what is kept of it, to store."""
        ledger = self.ledger(state.agent_id, partition)
        if isinstance(state, AgentCall):
            ledger.apply_call(state)
            return state
        timeline = as_timeline(state, ledger.max_age_us)
        ledger.apply_timeline(timeline)
        return timeline

    def snapshot(self, now_us: int) -> tuple[AgentSnapshot, ...]:
        """Every agent (``/api/v1/agents`` lists them all; ``[agents] export`` bounds /metrics)."""
        return tuple(self.ledgers[a].snapshot(now_us) for a in sorted(self.ledgers))

    def keep_partitions(self, owned: set[int]) -> None:
        """Drop agents whose partition this worker no longer owns (no stale series)."""
        for agent in [a for a, p in self.partition.items() if p not in owned]:
            del self.ledgers[agent], self.partition[agent]

    def expire(self, partition: int, now_us: int) -> dict[str, list[str]]:
        """Expire old calls of one partition's agents, hot and cold, and agents left with nothing
        to show; the call ids expired, by agent (an agent gone entirely is listed with ``[]``)."""
        expired: dict[str, list[str]] = {}
        for agent, ledger in self._owned(partition):
            calls = ledger.expire(now_us)
            self.cold.delete(agent, calls)  # older copies of calls that had turned hot again
            if calls:
                expired[agent] = calls
        for told in self.cold.expire(partition, now_us):
            owner = self.ledgers.get(told.agent_id)
            if owner is not None and owner.expire_cold(told, now_us):
                expired.setdefault(told.agent_id, []).append(told.call_id)
        for agent, ledger in self._owned(partition):
            if ledger.is_empty_at(now_us):
                del self.ledgers[agent], self.partition[agent]
                expired.setdefault(agent, [])
        return expired

    def pack(self, partition: int, now_us: int) -> list[str]:
        """Move one partition's calls quiet for ``COLD_AFTER_US`` to the cold store; their keys."""
        packed: list[str] = []
        for _, ledger in self._owned(partition):
            packed += self.cold.put(partition, ledger.release_quiet(now_us - COLD_AFTER_US))
        return packed

    def _owned(self, partition: int) -> list[tuple[str, AgentLedger]]:
        return [(a, ledger) for a, ledger in self.ledgers.items() if self.partition[a] == partition]

    def settled_changes(self) -> list[tuple[str, Settled, int]]:
        """The agents whose settled sums changed since last asked: (agent, sums, partition)."""
        changed = []
        for agent, ledger in self.ledgers.items():
            if ledger.settled_changed:
                ledger.settled_changed = False
                changed.append((agent, ledger.settled, self.partition[agent]))
        return changed

    def rebuild(
        self,
        settled: Iterable[tuple[str, Settled]],
        cold: Iterable[AgentCall],
        states: Iterable[BoardState],
        partition_of: Callable[[str], int | None],
        now_us: int,
    ) -> None:
        """After a recovery: the owned agents (``partition_of`` gives ``None`` for the others)
        from their settled sums, their cold calls, then their timelines and hot calls.

        Windows start at ``now_us`` first, as the queues' do (:meth:`QueueStep.rebuild`): hours
        of calls too old for any window then go straight into the sums, not into a bucket per
        instant that the first snapshot would drop (made and dropped in their millions, those
        buckets left a restarted worker's heap holding 70 MB of holes at eight hours).
        """
        self.keep_partitions(set())
        for agent, sums in settled:
            if (partition := partition_of(agent)) is not None:
                self.ledger(agent, partition).restore_settled(sums)
        for told in cold:
            if (partition := partition_of(told.agent_id)) is not None:
                self._started(told.agent_id, partition, now_us).restore_cold(told)
        for state in states:
            if (partition := partition_of(state.agent_id)) is not None:
                self._started(state.agent_id, partition, now_us)
                self.apply(state, partition)
        for ledger in self.ledgers.values():
            ledger.settled_changed = False  # as stored

    def _started(self, agent: str, partition: int, now_us: int) -> AgentLedger:
        """The agent's ledger, its windows started at ``now_us`` (after its settled sums, if
        any, which must come first; started again, nothing changes)."""
        ledger = self.ledger(agent, partition)
        ledger.sums.advance(now_us)
        return ledger

    def ledger(self, agent: str, partition: int) -> AgentLedger:
        """The agent's ledger, made when first needed; it is now owned from ``partition``."""
        ledger = self.ledgers.get(agent)
        if ledger is None:
            ledger = self.ledgers[agent] = AgentLedger(agent, self.settings, ColdReader(self.cold, agent))
        self.partition[agent] = partition
        return ledger
