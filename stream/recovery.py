"""After faust restores the tables from their changelogs: rebuild the queues, re-index the keys.

faust recovers each table's store; :class:`Recovery` then restores what lives outside the
tables (the queues' sums, their cold visits) for the partitions this worker now owns, and
drops what it no longer owns. Usage::

    recovery = Recovery(topology, queues, {"calls": cold_calls}, indexes, WallClock(), AgentBoard(settings))
    topology.visits_table.on_recover(recovery.rebuild)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable
from typing import Any

from metrics.steps.agent_board import AgentBoard
from metrics.steps.clock import LiveClock
from metrics.steps.queues import QueueStep
from metrics.storage.cold import ColdStore
from metrics.storage.cold_visits import split_key
from stream.faust_internals import recovered_key_partitions
from stream.heap import give_back_free_memory
from stream.housekeeping import KeyIndex
from stream.topology import Topology

log = logging.getLogger("ccmetrics.worker")


class Recovery:
    """What the worker does each time faust has recovered its tables."""

    def __init__(
        self,
        topology: Topology,
        queues: QueueStep,
        colds: dict[str, ColdStore],
        indexes: dict[str, KeyIndex],
        clock: LiveClock,
        board: AgentBoard,
    ) -> None:
        self.topology, self.queues, self.colds, self.indexes = topology, queues, colds, indexes
        self.clock, self.board = clock, board

    async def rebuild(self) -> None:
        topology = self.topology
        self._rebuild_queues(topology.owned_partitions(topology.queues))
        self._rebuild_board(topology.owned_partitions(topology.board))
        for name, table, source in (
            ("calls", topology.calls_table, topology.calls),
            ("agents", topology.agents_table, topology.agents),
            ("callers", topology.callers_table, topology.callers),
        ):
            owned = topology.owned_partitions(source)
            reindex(table, self.indexes[name], owned)
            if name in self.colds:
                self.colds[name].keep_partitions(owned)
        give_back_free_memory()  # what reading the changelogs took
        log.info("recovered %d queues", len(self.queues.states))

    def _rebuild_queues(self, owned: set[int]) -> None:
        topology, queues = self.topology, self.queues
        queues.keep_partitions(set())
        queues.cold.keep_partitions(owned)
        cold = list(queues.cold.items())  # read once: for the queues' names, then their visits
        tables = (topology.visits_table, topology.queue_agents_table, topology.settled_table)
        partition_of = owned_queues(tables, {v.queue for v in cold}, topology.queue_partition, owned)
        for table in tables:
            keep_owned_queues(table, partition_of)
        items = list(topology.visits_table.items()) + list(topology.queue_agents_table.items())
        settled = list(topology.settled_table.items())
        queues.rebuild(items, cold, settled, partition_of, self.clock.now_us())
        log.info("rebuilt queues on partitions %s", sorted(owned))

    def _rebuild_board(self, owned: set[int]) -> None:
        """The owned agents' ledgers from the board's tables; the others' entries dropped."""
        topology = self.topology
        partition_of = _owned_partition(topology.board_partition, owned)
        tables = (topology.board_agents_table, topology.board_calls_table, topology.board_settled_table)
        for table in tables:
            for key in [key for key in table.data if partition_of(split_key(key)[0]) is None]:
                del table.data[key]
            recovered_key_partitions(table).clear()
        board = self.board
        board.cold.keep_partitions(owned)
        states = [*topology.board_agents_table.data.values(), *topology.board_calls_table.data.values()]
        settled = list(topology.board_settled_table.data.items())
        board.rebuild(settled, board.cold.items(), states, partition_of, self.clock.now_us())
        log.info("rebuilt %d agents on partitions %s", len(self.board.ledgers), sorted(owned))


def _owned_partition(partition_for: Callable[[str], int], owned: set[int]) -> Callable[[str], int | None]:
    """A key's partition if it is owned, else ``None``."""

    def owned_partition(key: str) -> int | None:
        partition = partition_for(key)
        return partition if partition in owned else None

    return owned_partition


def reindex(table: Any, index: KeyIndex, owned: set[int]) -> None:
    """After a recovery: index the keys it read, and drop partitions no longer owned.

    faust's memory store knows the partition of a key it read back, not of one written since:
    ``index`` alone knows those. (Indexing from the store alone lost every key written live at
    each rebalance, never to expire, and a revoked partition's keys stayed in memory.) The
    store's list is cleared once read: the index keeps up.
    """
    recovered = recovered_key_partitions(table)
    for key, partition in recovered.items():
        index[partition].add(key)
    recovered.clear()
    for partition in [p for p in index if p not in owned]:
        for key in index.pop(partition):
            table.data.pop(key, None)


def owned_queues(
    tables: Iterable[Any], cold_queues: Iterable[str], partition_for: Callable[[str], int], owned: set[int]
) -> dict[str, int]:
    """Queue -> partition of each queue in the queue-side tables or cold visits whose partition is owned.

    The settled sums count: a queue whose visits all expired has nothing else left.
    """
    queues = {split_key(key)[0] for table in tables for key in table.data}
    queues.update(cold_queues)
    return {queue: p for queue in queues if (p := partition_for(queue)) in owned}


def keep_owned_queues(table: Any, owned: Container[str]) -> None:
    """After a recovery: drop a queue-side table's entries of queues no longer owned."""
    for key in [key for key in table.data if split_key(key)[0] not in owned]:
        del table.data[key]
    recovered_key_partitions(table).clear()  # read back only to be dropped on revocation: done here
