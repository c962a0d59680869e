"""The worker's cold stores: packed calls and visits in SQLite, on local disk.

A worker in a steady state keeps hours of finished calls (docs/architecture.md, "What is
kept") and reads them only when a late or re-sent event arrives. Kept in SQLite they cost
no Python objects and, on disk, little memory: SQLite caches what it reads in a page cache
of a bounded size (``CCMETRICS_COLD_CACHE_MB``), and the operating system's file cache does
the rest. The file is only a place for packed state, never a source of truth: it is made anew at each
start, unlinked at once so nothing is left behind, and the changelogs fill it again. A
Bloom filter of the keys put (:mod:`metrics.storage.key_filter`) answers most lookups of a
key never put, the usual lookup, without asking SQLite.
Usage::

    database = open_cold_database(Path("data"), cache_mb=8)
    calls = SqliteCold(database, "calls")           # a metrics.storage.cold.ColdStore
    calls.put(0, [("c1", expires_us, packed)])
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Container, Iterable, Iterator
from pathlib import Path

from metrics.storage.cold import Row
from metrics.storage.key_filter import KeyFilter


def open_cold_database(directory: Path, cache_mb: int) -> sqlite3.Connection:
    """A new, empty database in ``directory``, its file already unlinked."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"cold-state-{os.getpid()}.sqlite"
    path.unlink(missing_ok=True)
    database = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    path.unlink()  # the open connection keeps the file; a crash leaves nothing behind
    # Packed state rebuilt from the changelogs at each start: no journal, no fsync.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = {-1024 * cache_mb}"):
        database.execute(f"PRAGMA {pragma}")
    return database


class SqliteCold:
    """A :class:`metrics.storage.cold.ColdStore` in one table of a SQLite database.

    >>> cold = SqliteCold(sqlite3.connect(":memory:", isolation_level=None), "calls")
    >>> cold.put(2, [("c1", 100, b"x")])
    >>> cold.get("c1"), cold.expire(2, 101), len(cold)
    (b'x', [('c1', b'x')], 0)
    """

    def __init__(self, database: sqlite3.Connection, name: str) -> None:
        self._db, self._name = database, name
        database.execute(
            f"CREATE TABLE {name} (key TEXT PRIMARY KEY, partition INTEGER, expires INTEGER,"
            " data BLOB) WITHOUT ROWID"
        )
        database.execute(f"CREATE INDEX {name}_expiry ON {name} (partition, expires)")
        self._get = f"SELECT data FROM {name} WHERE key = ?"
        self._keys = KeyFilter.for_keys((), live=0)

    def get(self, key: str) -> bytes | None:
        if not self._keys.may_hold(key):
            return None
        row = self._db.execute(self._get, (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, partition: int, rows: Iterable[Row]) -> None:
        sql = f"INSERT OR REPLACE INTO {self._name} VALUES (?, {partition:d}, ?, ?)"
        self._write(sql, self._noted(rows))
        if self._keys.full:  # keys deleted since it was made stay set in it: made again
            self._keys = KeyFilter.for_keys(self._all_keys(), live=len(self))

    def _noted(self, rows: Iterable[Row]) -> Iterator[Row]:
        for row in rows:
            self._keys.add(row[0])
            yield row

    def _all_keys(self) -> Iterator[str]:
        return (key for (key,) in self._db.execute(f"SELECT key FROM {self._name}"))

    def delete(self, keys: Iterable[str]) -> None:
        self._write(f"DELETE FROM {self._name} WHERE key = ?", ((key,) for key in keys))

    def expire(self, partition: int, now_us: int) -> list[tuple[str, bytes]]:
        sql = f"DELETE FROM {self._name} WHERE partition = ? AND expires < ? RETURNING key, data"
        return self._db.execute(sql, (partition, now_us)).fetchall()

    def items(self) -> Iterator[tuple[str, bytes]]:
        return iter(self._db.execute(f"SELECT key, data FROM {self._name}").fetchall())

    def keep_partitions(self, owned: Container[int]) -> None:
        present = [p for (p,) in self._db.execute(f"SELECT DISTINCT partition FROM {self._name}")]
        gone = [(p,) for p in present if p not in owned]
        self._write(f"DELETE FROM {self._name} WHERE partition = ?", gone)

    def __len__(self) -> int:
        count: int = self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]
        return count

    def _write(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        """One statement over many rows, in one transaction (one per row would be slower)."""
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, rows)
        finally:
            self._db.execute("COMMIT")
