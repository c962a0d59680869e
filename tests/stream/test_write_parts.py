"""``/metrics`` is written in parts: a real aiohttp server, read back by a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from stream.exporter.http import METRICS_CONTENT_TYPE, write_parts

PARTS = [b"# HELP a A\n# TYPE a gauge\n", b'a{queue="q"} 1.0\n' * 50_000, b"", b"b 2.0\n"]


@asynccontextmanager
async def serving(parts: list[bytes]) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A client of a server whose ``/metrics`` writes ``parts``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await write_parts(request, parts, METRICS_CONTENT_TYPE)

    app = web.Application()
    app.router.add_get("/metrics", handler)  # HEAD too, as aiohttp allows it
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_the_parts_arrive_as_one_page_with_its_length_and_type() -> None:
    async with serving(PARTS) as client:
        response = await client.get("/metrics")
        assert await response.read() == b"".join(PARTS)
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4"
        assert int(response.headers["Content-Length"]) == sum(map(len, PARTS))
        assert "Transfer-Encoding" not in response.headers  # a length, not chunks


async def test_head_gets_the_length_and_no_body() -> None:
    async with serving(PARTS) as client:
        response = await client.head("/metrics")
        assert int(response.headers["Content-Length"]) == sum(map(len, PARTS))
        assert await response.read() == b""


async def test_no_snapshot_yet_is_an_empty_page() -> None:
    async with serving([]) as client:
        response = await client.get("/metrics")
        assert response.status == 200 and await response.read() == b""
