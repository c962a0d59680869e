"""Visits gone quiet, packed in a cold store, keyed by queue and call.

The queue step puts the visits a queue releases here and reads them back as visits: the
bytes, the key scheme and the expiry times stay in this module. Usage::

    cold = ColdVisits(InMemoryCold(), settings)
    cold.put(partition, visits)                # each expires as its queue would let it go
    cold.get("sales", "c1")                    # the Visit, or None
    cold.expire(partition, now_us)             # the visits whose time has come, gone from the store
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

from metrics.queue_state import keep_visit_us
from metrics.settings import Settings
from metrics.storage.cold import ColdStore, InMemoryCold
from metrics.storage.packing import pack_visit, packed_last_us, unpack_visit
from metrics.visits import Visit

SEPARATOR = "\x1f"  # between queue and call or agent id in queue-side keys


def visit_key(queue: str, call_id: str) -> str:
    """The key of a queue's visit (or agent) in the queue-side tables and the cold store."""
    return f"{queue}{SEPARATOR}{call_id}"


def split_key(key: str) -> tuple[str, str]:
    """The queue and call (or agent) id of a queue-side key."""
    queue, _, entity = key.partition(SEPARATOR)
    return queue, entity


class ColdVisits:
    """A :class:`~metrics.storage.cold.ColdStore` of packed visits, read and written as visits."""

    def __init__(self, store: ColdStore | None, settings: Settings) -> None:
        self.store: ColdStore = InMemoryCold() if store is None else store
        self.settings = settings
        self._keep_us: dict[str, int] = {}

    def get(self, queue: str, call_id: str) -> Visit | None:
        data = self.store.get(visit_key(queue, call_id))
        return None if data is None else unpack_visit(call_id, queue, data)

    def put(self, partition: int, visits: Iterable[Visit]) -> list[str]:
        """Pack and keep ``visits``; their keys."""
        rows = [
            (visit_key(v.queue, v.call_id), v.last_us + self._keep(v.queue), pack_visit(v)) for v in visits
        ]
        self.store.put(partition, rows)
        return [key for key, _, _ in rows]

    def delete(self, queue: str, call_ids: Iterable[str]) -> None:
        self.store.delete(visit_key(queue, call_id) for call_id in call_ids)

    def expire(self, partition: int, now_us: int) -> list[Visit]:
        """Remove and return the visits of ``partition`` whose queues let them go before ``now_us``."""
        return [_unpacked(key, data) for key, data in self.store.expire(partition, now_us)]

    def items(self) -> Iterator[Visit]:
        return (_unpacked(key, data) for key, data in self.store.items())

    def keep_partitions(self, owned: Container[int]) -> None:
        self.store.keep_partitions(owned)

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed visit (by its key) expires: as its queue would let it go."""
        return packed_last_us(data) + self._keep(split_key(key)[0])

    def _keep(self, queue: str) -> int:
        keep = self._keep_us.get(queue)
        if keep is None:
            keep = self._keep_us[queue] = keep_visit_us(self.settings, queue)
        return keep

    def __len__(self) -> int:
        return len(self.store)


def _unpacked(key: str, data: bytes) -> Visit:
    queue, call_id = split_key(key)
    return unpack_visit(call_id, queue, data)
