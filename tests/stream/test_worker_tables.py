"""What a worker keeps of its tables after a recovery (a restart or a rebalance)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from stream.recovery import keep_owned_queues, owned_queues, reindex
from tests.stream.test_batch_consumer import MemoryStore


def _table(entries: dict[str, object], read_back: dict[str, int]) -> SimpleNamespace:
    store = MemoryStore()
    store.update(entries)
    store._key_partition.update(read_back)
    return SimpleNamespace(data=store)


def test_keys_written_live_stay_indexed_and_revoked_partitions_are_let_go() -> None:
    table = _table({"live-0": 1, "live-1": 2, "read-3": 3, "live-5": 5}, read_back={"read-3": 3})
    index: dict[int, set[str]] = defaultdict(set)
    index.update({0: {"live-0"}, 1: {"live-1"}, 5: {"live-5"}})  # 5 is no longer this worker's
    reindex(table, index, owned={0, 1, 3})
    assert index == {0: {"live-0"}, 1: {"live-1"}, 3: {"read-3"}}
    assert table.data == {"live-0": 1, "live-1": 2, "read-3": 3}
    assert table.data._key_partition == {}  # read once; the index keeps up from here


def test_queue_side_tables_keep_the_queues_still_owned() -> None:
    table = _table({"sales\x1fc1": 1, "vip\x1fc2": 2, "sales": 3, "vip": 4}, read_back={"vip\x1fc2": 4})
    keep_owned_queues(table, {"sales": 0})
    assert table.data == {"sales\x1fc1": 1, "sales": 3}
    assert table.data._key_partition == {}


def test_a_queue_with_only_settled_sums_left_is_rebuilt() -> None:
    visits = _table({"sales\x1fc1": 1, "vip\x1fc2": 2}, read_back={})
    settled = _table({"sales": 3, "quiet": 4, "elsewhere": 5}, read_back={})
    partitions = {"sales": 0, "vip": 1, "quiet": 0, "elsewhere": 1, "only-cold": 0}
    owned = owned_queues((visits, settled), ["only-cold"], partitions.__getitem__, {0})
    assert owned == {"sales": 0, "quiet": 0, "only-cold": 0}
