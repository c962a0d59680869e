"""Values keyed by an owner and an entity (a queue and a call, an agent and a call), packed cold.

The one shape behind :class:`~metrics.storage.cold_visits.ColdVisits` and
:class:`~metrics.storage.cold_agent_calls.ColdAgentCalls`: the key scheme, packing on the way
in, unpacking on the way out, and each value's expiry from its newest event. Usage::

    cold = ColdVisits(InMemoryCold(), settings)      # a ColdPairs of visits
    cold.put(partition, visits)
    cold.get("sales", "c1")                           # the Visit, or None
    reader = ColdReader(cold, "sales")                # what one queue reads: reader("c1")
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from typing import Final, Generic, TypeVar

from metrics.storage.cold import ColdStore, InMemoryCold
from metrics.storage.packing import packed_last_us

V = TypeVar("V")
SEPARATOR: Final = "\x1f"  # between the owner (queue or agent) and the entity (call or agent) in keys


def visit_key(owner: str, entity: str) -> str:
    """The key of an owner's entity in the owner-side tables and the cold stores."""
    return f"{owner}{SEPARATOR}{entity}"


def split_key(key: str) -> tuple[str, str]:
    """The owner and entity ids of an owner-side key."""
    owner, _, entity = key.partition(SEPARATOR)
    return owner, entity


class ColdPairs(Generic[V]):
    """A :class:`~metrics.storage.cold.ColdStore` of packed values, read and written as values."""

    def __init__(
        self,
        store: ColdStore | None,
        pack: Callable[[V], bytes],
        unpack: Callable[[str, str, bytes], V],
        key_of: Callable[[V], tuple[str, str]],
        keep_us: Callable[[str], int],
    ) -> None:
        self.store: ColdStore = InMemoryCold() if store is None else store
        self._pack, self._unpack, self._key_of, self._keep_us = pack, unpack, key_of, keep_us

    def get(self, owner: str, entity: str) -> V | None:
        data = self.store.get(visit_key(owner, entity))
        return None if data is None else self._unpack(owner, entity, data)

    def put(self, partition: int, values: Iterable[V]) -> list[str]:
        """Pack and keep ``values``; their keys."""
        rows = []
        for value in values:
            key, data = visit_key(*self._key_of(value)), self._pack(value)
            rows.append((key, self.expiry(key, data), data))
        self.store.put(partition, rows)
        return [key for key, _, _ in rows]

    def delete(self, owner: str, entities: Iterable[str]) -> None:
        self.store.delete(visit_key(owner, entity) for entity in entities)

    def expire(self, partition: int, now_us: int) -> list[V]:
        """Remove and return the values of ``partition`` whose time came before ``now_us``."""
        return [self._unpacked(key, data) for key, data in self.store.expire(partition, now_us)]

    def items(self) -> Iterator[V]:
        return (self._unpacked(key, data) for key, data in self.store.items())

    def keep_partitions(self, owned: Container[int]) -> None:
        self.store.keep_partitions(owned)

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed value (by its key) expires: its newest event, plus its owner's keep."""
        return packed_last_us(data) + self._keep_us(split_key(key)[0])

    def _unpacked(self, key: str, data: bytes) -> V:
        owner, entity = split_key(key)
        return self._unpack(owner, entity, data)

    def __len__(self) -> int:
        return len(self.store)


class ColdReader(Generic[V]):
    """How one owner (a queue, an agent's ledger) reads its entities from a cold store."""

    __slots__ = ("cold", "owner")

    def __init__(self, cold: ColdPairs[V], owner: str) -> None:
        self.cold, self.owner = cold, owner

    def __call__(self, entity: str) -> V | None:
        return self.cold.get(self.owner, entity)
