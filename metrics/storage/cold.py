"""Where packed calls and visits go once cold, until they expire.

A call record or visit with no event for a minute is packed (:mod:`metrics.storage.packing`) and
moved out of the hot tables into a cold store, keyed by text, grouped by partition and
aged by an expiry time set when it is put. The worker keeps its cold stores in SQLite on
local disk (:mod:`stream.cold_store`): a steady state holds hours of finished calls, and as
Python objects, even packed, they took most of its memory. :class:`InMemoryCold` is the
same in a dict, for tests and tools. Usage::

    cold = InMemoryCold()
    cold.put(0, [("c1", expires_us, data)])       # partition, then (key, expiry, packed bytes)
    cold.get("c1") == data
    cold.expire(0, expires_us + 1) == [("c1", data)]   # and gone from the store

A key may be hot and cold at once: a cold call that gets a new event is unpacked into the
hot table and its cold copy stays behind, out of date, until the call is packed again (which
replaces it) or expires. Readers look in the hot table first (:class:`HotThenCold`), and whoever
expires cold rows skips keys that are hot.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

Row = tuple[str, int, bytes]  # key, expiry time (µs), packed value
Value = TypeVar("Value")
Found = TypeVar("Found", covariant=True)


class Lookup(Protocol[Found]):
    """Where a step reads states by key: a dict, a faust table's data, or :class:`HotThenCold`."""

    def get(self, key: str, /) -> Found | None: ...


class ColdStore(Protocol):
    """Packed values by key, each in a partition and with a time to expire."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, partition: int, rows: Iterable[Row]) -> None:
        """Add or replace rows (key, expiry, packed value) of ``partition``."""

    def delete(self, keys: Iterable[str]) -> None: ...

    def expire(self, partition: int, now_us: int) -> list[tuple[str, bytes]]:
        """Remove and return the rows of ``partition`` that expire before ``now_us``."""

    def items(self) -> Iterator[tuple[str, bytes]]: ...

    def keep_partitions(self, owned: Container[int]) -> None:
        """Remove every row of a partition not in ``owned``."""

    def __len__(self) -> int: ...


class InMemoryCold:
    """A :class:`ColdStore` in a dict.

    >>> cold = InMemoryCold()
    >>> cold.put(3, [("c1", 100, b"x")])
    >>> cold.expire(3, 50), cold.expire(3, 101)
    ([], [('c1', b'x')])
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, int, bytes]] = {}  # key -> partition, expiry, value

    def get(self, key: str) -> bytes | None:
        row = self._rows.get(key)
        return None if row is None else row[2]

    def put(self, partition: int, rows: Iterable[Row]) -> None:
        self._rows.update((key, (partition, expires, data)) for key, expires, data in rows)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._rows.pop(key, None)

    def expire(self, partition: int, now_us: int) -> list[tuple[str, bytes]]:
        gone = [(k, r[2]) for k, r in self._rows.items() if r[0] == partition and r[1] < now_us]
        self.delete(key for key, _ in gone)
        return gone

    def items(self) -> Iterator[tuple[str, bytes]]:
        return ((key, row[2]) for key, row in list(self._rows.items()))

    def keep_partitions(self, owned: Container[int]) -> None:
        self.delete([key for key, row in self._rows.items() if row[0] not in owned])

    def __len__(self) -> int:
        return len(self._rows)


class HotThenCold(Generic[Value]):
    """A table's hot entries in front of its cold store, unpacked on the way out: what a step
    reads a state from, never knowing whether it was packed.

    Not a ``Mapping`` subclass: compiled by mypyc, a subclass of an ABC shares the ABC's
    isinstance caches, and ``isinstance({}, HotThenCold)`` could then be true.

    >>> cold = InMemoryCold(); cold.put(0, [("c1", 9, b"old"), ("c2", 9, b"packed")])
    >>> table = HotThenCold({"c1": "unpacked"}, cold, lambda key, data: data.decode())
    >>> table.get("c1"), table.get("c2"), table.get("c3")
    ('unpacked', 'packed', None)
    """

    def __init__(
        self, hot: Mapping[str, Value], cold: ColdStore, unpack: Callable[[str, bytes], Value]
    ) -> None:
        self.hot, self.cold, self._unpack = hot, cold, unpack

    def get(self, key: str, /) -> Value | None:
        value = self.hot.get(key)
        if value is None:
            data = self.cold.get(key)
            return None if data is None else self._unpack(key, data)
        return value

    def __getitem__(self, key: str) -> Value:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        yield from self.hot
        yield from (key for key, _ in self.cold.items() if key not in self.hot)

    def __len__(self) -> int:
        return sum(1 for _ in self)
