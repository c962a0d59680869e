"""Our partitioner places every key where aiokafka's (and so Kafka's) would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from stream.partitioner import murmur2 as our_murmur2
from stream.partitioner import partition_of


@given(st.binary(max_size=300), st.integers(1, 64))
def test_every_key_goes_where_aiokafka_puts_it(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert our_murmur2(key) == murmur2(key)
    assert partition_of(key, partitions) == DefaultPartitioner()(key, every, every)


def test_no_key_goes_to_some_partition() -> None:
    assert {partition_of(None, 3) for _ in range(200)} == {0, 1, 2}
