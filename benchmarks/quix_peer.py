"""The peer a Python user would pick: a quix-streams application over the worker's events.

Usage (``benchmarks.kafka_throughput`` runs it in a virtual environment of its own,
``.cache/quix-venv``, that ``make bench`` makes: quix-streams is not a dependency)::

    .cache/quix-venv/bin/python benchmarks/quix_peer.py BOOTSTRAP TOPIC EXPECTED STATE_DIR

Written the way quix-streams' documentation recommends: JSON values, event time from the
CloudEvent's ``time``, ``group_by`` the queue (a repartition topic), then a 15-minute hopping
window (1-minute step) and a 1-hour tumbling window, each summing per queue the calls offered,
answered, abandoned and flowed out, with RocksDB state and changelog topics. It stops once it
has taken ``EXPECTED`` grouped events and prints one JSON line: events, seconds from the
first grouped event to the last, and its peak resident memory.

What it does not compute, that the worker does: service level (which needs each call's wait
against T and its order-independent outcome), waits and the answer-wait histogram, handle
time, transfers, blocked calls, surveys, repeat calls, Erlang C, agents and their time in
state, today in a queue's zone, duplicates and late events (it counts a re-sent event twice
and drops one older than its window), exact rolling windows (its windows are aligned to the
minute), and rejection of invalid events.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

OUTCOMES = {"call.queued": "offered", "call.answered": "answered", "call.abandoned": "abandoned"}
OUTCOMES["call.flowed_out"] = "flowed_out"


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def event_time(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    """The CloudEvent's ``time``, in milliseconds (quix-streams' event time)."""
    return int(datetime.fromisoformat(value["time"].replace("Z", "+00:00")).timestamp() * 1000)


def counts(event: dict[str, Any]) -> dict[str, int]:
    kind = OUTCOMES[event["type"]]
    return {name: int(name == kind) for name in OUTCOMES.values()}


def main(argv: list[str]) -> int:
    from quixstreams import Application  # type: ignore[import-not-found]  # its own venv
    from quixstreams.dataframe.windows import aggregations as agg  # type: ignore[import-not-found]

    bootstrap, topic_name, expected, state_dir = argv[0], argv[1], int(argv[2]), argv[3]
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"quix-peer-{time.time_ns()}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
    )
    topic = app.topic(topic_name, value_deserializer="json", timestamp_extractor=event_time)
    sdf = app.dataframe(topic).filter(lambda event: event.get("type") in OUTCOMES)
    sdf = sdf.group_by(lambda event: event["data"]["queue"], name="queue")
    seen = {"count": 0, "first": 0.0, "last": 0.0}

    def taken(event: dict[str, Any]) -> None:
        seen["count"] += 1
        seen["last"] = time.monotonic()
        if seen["count"] == 1:
            seen["first"] = seen["last"]
        if seen["count"] >= expected:
            app.stop()

    sdf = sdf.update(taken).apply(counts)
    sums = {name: agg.Sum(name) for name in OUTCOMES.values()}
    grace = timedelta(minutes=1)  # the topic's partitions interleave: events come out of order
    sdf.hopping_window(timedelta(minutes=15), timedelta(minutes=1), grace_ms=grace).agg(**sums).current()
    sdf.tumbling_window(timedelta(hours=1), grace_ms=grace).agg(**sums).current()
    app.run()
    print(
        json.dumps({"events": seen["count"], "seconds": seen["last"] - seen["first"], "peak_mb": peak_mb()})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
