"""Kafka's default partition of a key: murmur2 of its bytes, as the Java client, aiokafka and
faust place it, in typed code that the compiled build compiles (``setup.py``): aiokafka's
own is plain Python, and the worker works out by it where each queue's, agent's and caller's
messages go (``stream/topology.py``). A message sent without a partition is placed by
librdkafka's ``murmur2_random``, the same hash (``stream/direct_producer.py``; checked on a
real broker in ``tests/integration/test_direct_producer.py``). ``tests/stream/test_partitioner.py``
checks this one against aiokafka's on any key. Usage::

    partition_of(b"sales", 4)     # the partition of 4 that Kafka's producers give b"sales"
"""

from __future__ import annotations

import random
from typing import Final

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def partition_of(key: bytes | None, partitions: int) -> int:
    """The partition of ``partitions`` (numbered from 0) for ``key``; any one for no key.

    >>> partition_of(b"sales", 4), partition_of(b"sales", 5)
    (0, 4)
    """
    if key is None:
        return random.randrange(partitions)
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """MurmurHash2 as Kafka's Java client computes it (``Utils.murmur2``), unsigned."""
    length = len(data)
    h, whole = _SEED ^ length, length & ~3  # the bytes in whole 4-byte words
    for start in range(0, whole, 4):
        k = data[start] | data[start + 1] << 8 | data[start + 2] << 16 | data[start + 3] << 24
        h = _times_m(h) ^ _mixed(k)
    return _finished(_tail(data, whole, h))


def _times_m(x: int) -> int:
    """``x * 0x5BD1E995`` modulo 2**32."""
    return x * _M & _MASK


def _mixed(k: int) -> int:
    k = _times_m(k)
    return _times_m(k ^ k >> 24)


def _tail(data: bytes, end: int, h: int) -> int:
    """The hash with the last one to three bytes (from ``end``) in."""
    extra = len(data) - end
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h = _times_m(h ^ data[end])
    return h


def _finished(h: int) -> int:
    h = _times_m(h ^ h >> 13)
    return h ^ h >> 15
