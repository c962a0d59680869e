"""Call records gone quiet, packed in a cold store keyed by call id.

Usage::

    cold = ColdCalls(SqliteCold(database, "calls"), expire_after_us)
    records = cold.behind(table)            # hot records first, cold ones unpacked on the way
    cold.pack_quiet(table, keys, partition, now_us)   # keys moved out of ``table``
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping

from metrics.calls import CallRecord
from metrics.storage.cold import ColdStore, HotThenCold
from metrics.storage.packing import COLD_AFTER_US, pack_call, packed_last_us, unpack_call


class ColdCalls:
    """A :class:`~metrics.storage.cold.ColdStore` of packed call records."""

    def __init__(self, store: ColdStore, expire_after_us: int) -> None:
        self.store, self.expire_after_us = store, expire_after_us

    def behind(self, hot: MutableMapping[str, CallRecord]) -> HotThenCold[CallRecord]:
        """The hot records in front of this store: what the call step reads."""
        return HotThenCold(hot, self.store, unpack_call)

    def pack_quiet(
        self, hot: MutableMapping[str, CallRecord], keys: Iterable[str], partition: int, now_us: int
    ) -> list[str]:
        """Move records among ``keys`` with no event for ``COLD_AFTER_US`` out of ``hot``; their keys."""
        before = now_us - COLD_AFTER_US
        quiet = [key for key in keys if (record := hot.get(key)) is not None and record.last_us < before]
        rows = [(key, hot[key].last_us + self.expire_after_us, pack_call(hot[key])) for key in quiet]
        self.store.put(partition, rows)
        for key in quiet:
            del hot[key]
        return quiet

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed record expires: as the call step would let it go."""
        return packed_last_us(data) + self.expire_after_us
