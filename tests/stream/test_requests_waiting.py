"""Requests being answered are counted by the worker's middleware, and size the pieces of
batches the consumer hands over meanwhile."""

from __future__ import annotations

import asyncio
import http.client
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from stream.deploy import Deployment
from stream.exporter.http import web_options
from stream.faust_internals import BatchConsumer
from stream.requests_waiting import RequestsWaiting
from tests.stream.consumers import PARTITION, hand_over_consumer, records_at

TOPIC = "callcenter.calls"


def test_whole_batches_until_a_topic_has_been_timed() -> None:
    assert RequestsWaiting().records_per_piece(TOPIC) is None


def test_pieces_take_the_busy_time_while_no_request_waits() -> None:
    waiting = RequestsWaiting(piece_seconds=0.05, busy_piece_seconds=0.25)
    waiting.handled(TOPIC, records=20_000, seconds=1.0)  # 50 µs a record
    assert waiting.records_per_piece(TOPIC) == 5_000
    assert waiting.records_per_piece("callcenter.agents") is None  # each topic timed on its own


def test_pieces_are_shorter_while_a_request_is_answered_and_never_empty() -> None:
    waiting = RequestsWaiting(piece_seconds=0.05, busy_piece_seconds=0.25)
    waiting.handled(TOPIC, records=20_000, seconds=1.0)
    waiting.answering = 1
    assert waiting.records_per_piece(TOPIC) == 1_000
    waiting.handled(TOPIC, records=2, seconds=0.5)  # a record that takes longer than a piece
    assert waiting.records_per_piece(TOPIC) == 1


def test_an_empty_batch_leaves_the_measure_alone() -> None:
    waiting = RequestsWaiting(busy_piece_seconds=0.25)
    waiting.handled(TOPIC, records=1_000, seconds=0.05)
    waiting.handled(TOPIC, records=0, seconds=0.01)
    assert waiting.records_per_piece(TOPIC) == 5_000


@asynccontextmanager
async def serving(
    waiting: RequestsWaiting, seen: list[int]
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The worker's middlewares before a page that notes how many requests are being answered."""

    async def page(request: web.Request) -> web.StreamResponse:
        seen.append(waiting.answering)
        if request.query.get("fail"):
            raise web.HTTPInternalServerError()
        return web.Response(text="ok")

    options = web_options(Deployment(metrics_username="prometheus", metrics_password="s3cret"), waiting)
    app = web.Application(**options["web_application_options"])
    app.router.add_get("/metrics", page)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_request_counts_while_it_is_answered_even_when_it_fails() -> None:
    waiting, seen = RequestsWaiting(), []
    async with serving(waiting, seen) as client:
        auth = {"Authorization": "Basic cHJvbWV0aGV1czpzM2NyZXQ="}  # prometheus:s3cret
        assert (await client.get("/metrics", headers=auth)).status == 200
        assert (await client.get("/metrics?fail=1", headers=auth)).status == 500
    assert seen == [1, 1]
    assert waiting.answering == 0


def test_requests_the_guard_turns_away_are_not_counted() -> None:
    """The guard comes first (aiohttp runs the first middleware outermost): a flood of
    unauthorised requests cannot slow the consumer down."""
    waiting = RequestsWaiting()
    middlewares = web_options(Deployment(), waiting)["web_application_options"]["middlewares"]
    assert middlewares[-1] == waiting.middleware and len(middlewares) == 2


async def test_a_request_arriving_during_a_batch_is_started_after_the_piece_running() -> None:
    """A real server, and a client in a thread sending a request while the consumer hands
    over pieces of 20 ms: the request is started as soon as the piece running then is done,
    and the batch goes on in smaller pieces while it is answered."""
    waiting = RequestsWaiting(piece_seconds=0.005, busy_piece_seconds=0.02)
    waiting.handled(PARTITION.topic, records=1, seconds=0.001)  # a millisecond a record
    consumer, pieces, started_at, sent_at = hand_over_consumer(waiting), [], [], []

    async def handler(records: list[Any]) -> Any:
        pieces.append(len(records))
        time.sleep(len(records) / 1000)
        return asyncio.sleep(0)

    async def page(request: web.Request) -> web.StreamResponse:
        started_at.append(len(pieces))
        return web.Response(text="ok")

    def client(port: int) -> bytes:
        time.sleep(0.1)  # a few pieces in
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.connect()  # the kernel accepts it; the worker's loop has yet to see it
        sent_at.append(len(pieces))
        connection.request("GET", "/metrics")
        try:
            return connection.getresponse().read()
        finally:
            connection.close()

    app = web.Application(middlewares=[waiting.middleware])
    app.router.add_get("/metrics", page)
    async with TestServer(app) as server:
        reply = asyncio.get_running_loop().run_in_executor(None, client, server.port)
        batches = [(PARTITION, records_at(*range(800)))]
        await BatchConsumer._hand_over(consumer, PARTITION.topic, handler, batches, 0)
        assert await reply == b"ok"
    # started after the piece running when it was sent, or the next (with one turn a piece: 6)
    assert sent_at[0] > 0 and started_at[0] - sent_at[0] <= 2
    assert len(pieces) > started_at[0] + 2  # the batch went on after it
