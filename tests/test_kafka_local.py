"""The local broker's helpers: what kafka-storage is given."""

from __future__ import annotations

import re

from tools.kafka_local import _cluster_id


def test_cluster_ids_never_look_like_an_option() -> None:
    ids = {_cluster_id() for _ in range(2000)}  # one in 64 random ids starts with "-"
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cluster_id) for cluster_id in ids)
