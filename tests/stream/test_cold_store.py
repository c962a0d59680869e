"""The cold stores: SQLite on disk (the worker's) behaves as the dict one (tests' and tools')."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from metrics.calls import CallRecord
from metrics.storage.cold import ColdStore, HotThenCold, InMemoryCold
from metrics.storage.packing import pack_call, packed_last_us
from stream.cold_store import SqliteCold, open_cold_database
from stream.faust_internals import apply_changelog, pack_on_recovery
from stream.state_codecs import encode_state, register_codecs


def sqlite_cold(tmp_path: Path) -> ColdStore:
    return SqliteCold(open_cold_database(tmp_path, cache_mb=1), "calls")


def in_memory_cold(tmp_path: Path) -> ColdStore:
    return InMemoryCold()


@pytest.fixture(params=[sqlite_cold, in_memory_cold])
def make_cold(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], ColdStore]:
    return lambda: request.param(tmp_path)  # type: ignore[no-any-return]


def test_rows_are_kept_replaced_and_deleted(make_cold: Callable[[], ColdStore]) -> None:
    cold = make_cold()
    cold.put(0, [("c1", 10, b"one"), ("c2", 20, b"two")])
    cold.put(0, [("c1", 30, b"one again")])
    cold.delete(["c2", "never-there"])
    assert cold.get("c1") == b"one again" and cold.get("c2") is None
    assert sorted(cold.items()) == [("c1", b"one again")] and len(cold) == 1


def test_rows_expire_by_partition_and_time(make_cold: Callable[[], ColdStore]) -> None:
    cold = make_cold()
    cold.put(0, [("old", 10, b"a"), ("due", 19, b"b"), ("young", 20, b"c")])
    cold.put(1, [("elsewhere", 10, b"d")])
    assert sorted(cold.expire(0, 20)) == [("due", b"b"), ("old", b"a")]
    assert cold.expire(0, 20) == [] and sorted(key for key, _ in cold.items()) == ["elsewhere", "young"]


def test_revoked_partitions_are_dropped(make_cold: Callable[[], ColdStore]) -> None:
    cold = make_cold()
    for partition in range(4):
        cold.put(partition, [(f"c{partition}", 10, b"x")])
    cold.keep_partitions({1, 3})
    assert sorted(key for key, _ in cold.items()) == ["c1", "c3"]


def test_hot_entries_hide_their_cold_copies(make_cold: Callable[[], ColdStore]) -> None:
    cold = make_cold()
    cold.put(0, [("c1", 10, b"out of date"), ("c2", 10, b"cold")])
    table = HotThenCold({"c1": "hot"}, cold, lambda key, data: data.decode())
    assert (table.get("c1"), table["c2"], table.get("c3")) == ("hot", "cold", None)
    assert sorted(table) == ["c1", "c2"] and len(table) == 2
    with pytest.raises(KeyError):
        table["c3"]


def test_a_key_never_put_is_mostly_answered_without_sqlite(tmp_path: Path) -> None:
    database = open_cold_database(tmp_path, cache_mb=1)
    cold, statements = SqliteCold(database, "calls"), list[str]()
    cold.put(0, [(f"c{n}", 100, b"x") for n in range(1_000)])
    database.set_trace_callback(statements.append)
    assert [cold.get(f"new{n}") for n in range(1_000)] == [None] * 1_000
    assert len(statements) < 50  # a false positive asks SQLite: about 1 %
    assert cold.get("c7") == b"x" and statements[-1].startswith("SELECT data")


def test_the_key_filter_is_made_again_without_the_keys_deleted(tmp_path: Path) -> None:
    database = open_cold_database(tmp_path, cache_mb=1)
    cold, statements = SqliteCold(database, "calls"), list[str]()
    for start in range(0, 60_000, 1_000):  # put and expired, over and over: past the capacity
        cold.put(0, [(f"c{n}", n, b"x") for n in range(start, start + 1_000)])
        cold.expire(0, start + 1_000)
    database.set_trace_callback(statements.append)
    assert [cold.get(f"c{n}") for n in range(50_000)] == [None] * 50_000
    assert len(statements) < 2_500  # without making it again, nearly every key would ask


def test_the_database_file_is_gone_from_the_folder_at_once(tmp_path: Path) -> None:
    cold = SqliteCold(open_cold_database(tmp_path / "data", cache_mb=1), "visits")
    cold.put(0, [("sales\x1fc1", 10, os.urandom(300))])
    assert list((tmp_path / "data").iterdir()) == []  # a killed worker leaves nothing behind
    assert len(cold) == 1


def test_recovery_sends_packed_values_to_the_cold_store_and_the_rest_to_memory() -> None:
    register_codecs()
    table = SimpleNamespace(name="calls", app=None, loop=None, key_serializer="ccm-str")
    table.value_serializer = "ccm-call"  # packs what it reads: the calls recovered go cold
    cold = InMemoryCold()
    pack_on_recovery(table, cold, lambda key, data: packed_last_us(data) + 7)
    old, record = CallRecord("c1"), CallRecord("c2")
    record.last_us = 1_000
    records = [
        SimpleNamespace(key=b"c1", value=encode_state(old)),
        SimpleNamespace(key=b"c2", value=encode_state(record)),
        SimpleNamespace(key=b"c1", value=None),  # a tombstone: c1 was let go
    ]
    table.data = table._data  # as faust's table property gives it
    apply_changelog(table, 3, records)
    assert dict(cold.items()) == {"c2": pack_call(record)} and cold.expire(3, 1_007) == []
    store = table.data
    store.apply_entries(3, [("c2", None), ("hot", "not packed")])
    assert len(cold) == 0 and dict(store.data) == {"hot": "not packed"}
    assert store._key_partition == {"hot": 3}
