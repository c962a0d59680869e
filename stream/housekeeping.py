"""Now and then, from inside each partition's own batches: expire old state and pack quiet state.

Each step's table is looked after per partition at most every ``EVERY_SECONDS``; what is let
go is deleted from the table with a changelog tombstone, what is packed moves to the cold
store without a message (the same content). Usage::

    schedule = Schedule()
    for partition in schedule.due("calls", records):
        messages += calls_housekeeping.run(partition, now_us)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from metrics.agents import AgentHistory
from metrics.callers import CallerHistory
from metrics.calls import CallRecord
from metrics.steps.agent_board import AgentBoard
from metrics.steps.queues import QueueStep
from metrics.storage.cold import Lookup
from metrics.storage.cold_entities import ColdEntities
from metrics.storage.cold_visits import visit_key
from stream.direct_producer import Message, table_deletion, table_entry
from stream.intake import Record

EVERY_SECONDS = 10.0
STAGGER_SECONDS = 1.3  # not a divisor of the period: a dozen turns fall at distinct moments
Kept = TypeVar("Kept", CallRecord, AgentHistory, CallerHistory)
Told = TypeVar("Told", contravariant=True)
KeyIndex = dict[int, set[str]]  # partition -> keys stored from it, so each partition expires its own


class Schedule:
    """Whose turn it is: each step's partition at most every ``EVERY_SECONDS``.

    Turns are spread over the period (``STAGGER_SECONDS`` apart as steps and partitions are
    first seen): taken all at once, every partition of every step packing its quiet state in
    the same moment held every event up for seconds (``benchmarks/latency.py``).
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], float] = {}

    def due(self, step: str, records: Iterable[Record]) -> list[int]:
        """The partitions among the records' whose turn has come."""
        moment, due = time.monotonic(), []
        for partition in sorted({record.partition for record in records}):
            last = self._last.get((step, partition))
            if last is None:
                last = self._last[step, partition] = self._first_turn(moment)
            if moment - last >= EVERY_SECONDS:
                self._last[step, partition] = moment
                due.append(partition)
        return due

    def _first_turn(self, moment: float) -> float:
        """A "last turn" that makes the next one come ``STAGGER_SECONDS`` after the previous
        newcomer's (modulo the period); the first newcomer's turn is now."""
        return moment - EVERY_SECONDS + (len(self._last) * STAGGER_SECONDS) % EVERY_SECONDS


class Expiring(Protocol[Told]):
    """A step that says which of its entities have expired (calls, agents, callers)."""

    def expired(self, store: Lookup[Told], candidates: Iterable[str], now_us: int) -> list[str]: ...


class EntityHousekeeping(Generic[Kept]):
    """Expires a call, agent or caller table's old entries; packs quiet calls and callers into
    their cold store."""

    def __init__(
        self, step: Expiring[Kept], table: Any, index: KeyIndex, cold: ColdEntities[Any] | None
    ) -> None:
        self.step: Expiring[Kept] = step
        self.table, self.index, self.cold = table, index, cold

    def run(self, partition: int, now_us: int) -> list[Message]:
        hot, keys = self.table.data, self.index[partition]
        expired = self.step.expired(hot, keys, now_us)
        keys.difference_update(expired)
        if self.cold is not None:
            keys.difference_update(self.cold.pack_quiet(hot, list(keys), partition, now_us))
            self.cold.store.delete(expired)  # older copies of records that had turned hot again
            expired += [key for key, _ in self.cold.store.expire(partition, now_us) if key not in hot]
        return [table_deletion(self.table, key, partition) for key in expired]


class QueueHousekeeping:
    """Expires a partition's queues' visits and agents, and packs their quiet visits."""

    def __init__(self, queues: QueueStep, visits: Any, agents: Any, settled: Any) -> None:
        self.queues, self.visits, self.agents, self.settled = queues, visits, agents, settled

    def run(self, partition: int, now_us: int) -> list[Message]:
        expired = self.queues.expire(partition, now_us)
        for key in self.queues.pack(partition, now_us):  # now in the cold store: nothing to send
            self.visits.data.pop(key, None)
        messages = [table_deletion(self.visits, key, partition) for key in expired.visits]
        messages += [table_deletion(self.agents, key, partition) for key in expired.agents]
        return messages + [table_entry(self.settled, q, s, partition) for q, s in expired.settled.items()]


class BoardHousekeeping:
    """Expires a partition's agents' old calls (and agents left with nothing to show), and packs
    their quiet calls."""

    def __init__(self, board: AgentBoard, agents: Any, calls: Any, settled: Any) -> None:
        self.board, self.agents, self.calls, self.settled = board, agents, calls, settled

    def run(self, partition: int, now_us: int) -> list[Message]:
        expired = self.board.expire(partition, now_us)
        for key in self.board.pack(partition, now_us):  # now in the cold store: nothing to send
            self.calls.data.pop(key, None)
        messages = [
            table_deletion(self.calls, visit_key(agent, call_id), partition)
            for agent, call_ids in expired.items()
            for call_id in call_ids
        ]
        gone = [agent for agent in expired if agent not in self.board.ledgers]
        messages += [
            table_deletion(table, agent, partition) for agent in gone for table in (self.agents, self.settled)
        ]
        changed = self.board.settled_changes()
        return messages + [table_entry(self.settled, agent, sums, p) for agent, sums, p in changed]
