"""Which keys a cold store may hold: a Bloom filter in front of its lookups.

The worker looks each new call, visit and caller up in its cold store before making it anew,
and nearly none of them is there: a one-off profile of the worker (2026-12-01) found a SQLite
miss for most events, and without them the worker ran 1.22× as fast
(``python -m benchmarks.worker_ab``). The filter answers most misses from memory: 12 bits a
key and 3 probes, about 1 % false positives at capacity (each costs only the lookup it would
have made anyway), never a false negative. A key deleted from
the store stays set until the filter is made again from the store's keys, which its owner
does once :attr:`KeyFilter.full` (as many adds since it was made as its capacity). Usage::

    keys = KeyFilter.for_keys(["c1"], live=1)
    keys.add("c2")
    keys.may_hold("c1"), keys.may_hold("c3")    # (True, False): the second nearly always
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

BITS_PER_KEY: Final = 12
PROBES: Final = 3
# The fewest keys a filter is made for (12 KB of bits): a store's filter is made again only
# when as many keys were added as it was made for, twice the keys then held.
MIN_CAPACITY: Final = 1 << 13


class KeyFilter:
    """A Bloom filter of strings, for one process (Python's string hash is seeded per process).

    >>> keys = KeyFilter(capacity=100)
    >>> keys.add("c1")
    >>> keys.may_hold("c1")
    True
    """

    __slots__ = ("_added", "_bits", "_capacity", "_size")

    def __init__(self, capacity: int) -> None:
        self._capacity = max(capacity, MIN_CAPACITY)
        self._size = self._capacity * BITS_PER_KEY
        self._bits = bytearray((self._size + 7) // 8)
        self._added = 0

    @classmethod
    def for_keys(cls, keys: Iterable[str], live: int) -> KeyFilter:
        """A filter of ``keys`` (``live`` of them), with room for as many again."""
        made = cls(2 * live)
        for key in keys:
            made.add(key)
        return made

    @property
    def full(self) -> bool:
        """Whether as many keys were added as it was made for: false positives grow from here."""
        return self._added >= self._capacity

    def add(self, key: str) -> None:
        self._added += 1
        bits, size, at = self._bits, self._size, hash(key)
        step = _step(at)
        for _ in range(PROBES):
            at = (at + step) % size
            bits[at >> 3] |= 1 << (at & 7)

    def may_hold(self, key: str) -> bool:
        """``False`` only for a key never added."""
        bits, size, at = self._bits, self._size, hash(key)
        step = _step(at)
        for _ in range(PROBES):
            at = (at + step) % size
            if not bits[at >> 3] & (1 << (at & 7)):
                return False
        return True


def _step(hashed: int) -> int:
    """The distance between probes, from the key's hash's high half (odd, so never zero)."""
    return (hashed >> 32) | 1
