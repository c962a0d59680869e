"""The naive way, as a baseline: a faust agent that takes one event at a time.

``async for value in stream`` on both event topics, each event decoded with orjson, and
per-queue counts kept in faust windowed tables (tumbling 5-minute windows), the way a
first faust version of this service would be written. Run by ``benchmarks.kafka_throughput``::

    python -m benchmarks.naive_faust BOOTSTRAP PREFIX APP_ID EVENTS

Prints ``RESULT first_event_at last_event_at count`` (monotonic seconds) when ``EVENTS`` are done;
the caller then stops it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import faust
import orjson

COUNTED = ("call.queued", "call.answered", "call.abandoned", "call.ended")


def build(bootstrap: str, prefix: str, app_id: str, expected: int) -> faust.App:
    app = faust.App(
        app_id, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False, topic_partitions=4
    )
    app.conf.consumer_auto_offset_reset = "earliest"
    topics = [
        app.topic(prefix + name, value_serializer="raw") for name in ("callcenter.calls", "callcenter.agents")
    ]
    counts: Any = app.Table("naive-counts", default=int).tumbling(300, expires=3600)
    agents: Any = app.Table("naive-agents", default=str)
    seen = {"count": 0, "first": 0.0}

    @app.agent(topics[0])
    async def calls(stream: Any) -> None:
        async for value in stream:
            event = orjson.loads(value)
            if event["type"] in COUNTED:
                counts[(event["data"].get("queue", ""), event["type"])] += 1
            _done_one(seen, expected)

    @app.agent(topics[1])
    async def agent_states(stream: Any) -> None:
        async for value in stream:
            event = orjson.loads(value)
            agents[event["data"]["agent_id"]] = event["data"]["state"]
            _done_one(seen, expected)

    return app


def _done_one(seen: dict[str, Any], expected: int) -> None:
    seen["count"] += 1
    if seen["count"] == 1:
        seen["first"] = time.monotonic()
    if seen["count"] == expected:
        print(f"RESULT {seen['first']} {time.monotonic()} {seen['count']}", flush=True)  # the caller stops us


if __name__ == "__main__":
    bootstrap, prefix, app_id, expected = sys.argv[1:5]
    app = build(bootstrap, prefix, app_id, int(expected))
    faust.Worker(app, loglevel="warning", redirect_stdouts=False).execute_from_commandline()
