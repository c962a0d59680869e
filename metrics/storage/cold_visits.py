"""Visits gone quiet, packed in a cold store, keyed by queue and call.

The queue step puts the visits a queue releases here and reads them back as visits; each
expires as its queue would let it go. Usage::

    cold = ColdVisits(InMemoryCold(), settings)
    cold.put(partition, visits)
    cold.get("sales", "c1")                    # the Visit, or None
    cold.expire(partition, now_us)             # the visits whose time has come, gone from the store
"""

from __future__ import annotations

from metrics.queue_state import keep_visit_us
from metrics.settings import Settings
from metrics.storage.cold import ColdStore
from metrics.storage.cold_pairs import SEPARATOR, ColdPairs, split_key, visit_key
from metrics.storage.packing import pack_visit, unpack_visit
from metrics.visits import Visit

__all__ = ["SEPARATOR", "ColdVisits", "split_key", "visit_key"]


class ColdVisits(ColdPairs[Visit]):
    """Packed visits by queue and call."""

    def __init__(self, store: ColdStore | None, settings: Settings) -> None:
        keep: dict[str, int] = {}

        def keep_us(queue: str) -> int:
            if queue not in keep:
                keep[queue] = keep_visit_us(settings, queue)
            return keep[queue]

        super().__init__(store, pack_visit, _unpack, _key_of, keep_us)


def _unpack(queue: str, call_id: str, data: bytes) -> Visit:
    return unpack_visit(call_id, queue, data)


def _key_of(visit: Visit) -> tuple[str, str]:
    return visit.queue, visit.call_id
