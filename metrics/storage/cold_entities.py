"""Call records and caller histories gone quiet, packed in a cold store keyed by their ids.

Usage::

    cold = ColdCalls(SqliteCold(database, "calls"), expire_after_us)
    records = cold.behind(table)            # hot records first, cold ones unpacked on the way
    cold.pack_quiet(table, keys, partition, now_us)   # keys moved out of ``table``
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Generic, TypeVar

from metrics.callers import CallerHistory
from metrics.calls import CallRecord
from metrics.storage.cold import ColdStore, HotThenCold
from metrics.storage.packing import (
    COLD_AFTER_US,
    Timed,
    pack_call,
    pack_caller,
    packed_last_us,
    unpack_call,
    unpack_caller,
)

Entity = TypeVar("Entity", bound=Timed)


class ColdEntities(Generic[Entity]):
    """A :class:`~metrics.storage.cold.ColdStore` of one kind of packed state, each kept until
    ``expire_after_us`` after its newest time (``last_us``)."""

    def __init__(
        self,
        store: ColdStore,
        expire_after_us: int,
        pack: Callable[[Entity], bytes],
        unpack: Callable[[str, bytes], Entity],
    ) -> None:
        self.store, self.expire_after_us = store, expire_after_us
        self._pack, self._unpack = pack, unpack

    def behind(self, hot: MutableMapping[str, Entity]) -> HotThenCold[Entity]:
        """The hot states in front of this store: what a step reads."""
        return HotThenCold(hot, self.store, self._unpack)

    def pack_quiet(
        self, hot: MutableMapping[str, Entity], keys: Iterable[str], partition: int, now_us: int
    ) -> list[str]:
        """Move states among ``keys`` with nothing new for ``COLD_AFTER_US`` out of ``hot``; their keys."""
        before = now_us - COLD_AFTER_US  # a worker's table is a faust store: each key read once
        states = [(key, state) for key in keys if (state := hot.get(key)) is not None]
        states = [(key, state) for key, state in states if state.last_us < before]
        expiry = self.expire_after_us
        self.store.put(partition, [(key, state.last_us + expiry, self._pack(state)) for key, state in states])
        for key, _ in states:
            del hot[key]
        return [key for key, _ in states]

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed state expires: as its step would let it go."""
        return packed_last_us(data) + self.expire_after_us


class ColdCalls(ColdEntities[CallRecord]):
    """Packed call records (:mod:`metrics.storage.packing`)."""

    def __init__(self, store: ColdStore, expire_after_us: int) -> None:
        super().__init__(store, expire_after_us, pack_call, unpack_call)


class ColdCallers(ColdEntities[CallerHistory]):
    """Packed caller histories: a week of callers at a million calls a day stays on disk."""

    def __init__(self, store: ColdStore, keep_us: int) -> None:
        super().__init__(store, keep_us, pack_caller, unpack_caller)
