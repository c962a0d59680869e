"""faust's in-memory table store, except that recovery puts packed values in a cold store.

The call and visit codecs pack what recovery reads (:mod:`stream.state_codecs`): most
calls read back are over. Those values go straight to the table's cold store
(:mod:`metrics.cold`), so a restart never holds hours of calls as Python objects, not
even for a moment. Anything else stays in faust's dict, as in the plain memory store. Usage::

    spill_recovery(table, cold, expiry)   # before the app starts; expiry(key, packed) -> µs
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from faust.stores import memory
from faust.types import EventT

from metrics.cold import ColdStore

Expiry = Callable[[str, bytes], int]


class SpillingStore(memory.Store[str, Any]):
    """A memory store whose changelog recovery sends packed values to ``cold``."""

    cold: ColdStore
    expiry: Expiry

    def apply_changelog_batch(
        self, batch: Iterable[EventT[Any]], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        """faust's recovery: its events, by partition, through :meth:`apply_entries`."""
        by_partition: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for event in batch:
            value = None if event.message.value is None else to_value(event.value)
            by_partition[event.message.partition].append((to_key(event.key), value))
        for partition, entries in by_partition.items():
            self.apply_entries(partition, entries)

    def apply_entries(self, partition: int, entries: Iterable[tuple[Any, Any]]) -> None:
        """Set, or delete (value ``None``), entries read back from one changelog partition, in order."""
        spilled: dict[str, bytes] = {}
        not_cold: set[str] = set()
        for key, value in entries:
            self.data.pop(key, None)
            self._key_partition.pop(key, None)
            spilled.pop(key, None)
            if isinstance(value, bytes):
                spilled[key] = value
                not_cold.discard(key)
                continue
            not_cold.add(key)
            if value is not None:
                self.data[key] = value
                self._key_partition[key] = partition
        self.cold.delete(not_cold)
        self.cold.put(partition, [(key, self.expiry(key, data), data) for key, data in spilled.items()])


def spill_recovery(table: Any, cold: ColdStore, expiry: Expiry) -> None:
    """Give a faust table a :class:`SpillingStore` (before its store is first used)."""
    store = SpillingStore("memory://", table.app, table, table_name=table.name, loop=table.loop)
    store.cold, store.expiry = cold, expiry
    table._data = store
