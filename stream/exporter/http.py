"""The worker's HTTP side: the snapshot holder, ``/metrics``, liveness and readiness.

faust's own pages are off (see :func:`web_options`); :class:`~stream.http_guard.HttpGuard`
answers 401 without credentials and 404 for any path not in :data:`SERVED_PATHS`. Usage::

    snapshots = Snapshots(topology, queues, board, stats, clock, timings)
    serve_pages(app, snapshots, stale_after_seconds)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, cast

import faust
from aiohttp import web
from faust.web import Request, Response, View

from metrics.pipeline import PipelineStats
from metrics.snapshot import PipelineSnapshot, QueueSnapshot, Snapshot
from metrics.steps.agent_board import AgentBoard
from metrics.steps.clock import LiveClock
from metrics.steps.queues import QueueStep
from metrics.timeutil import US
from stream.basic_auth import BasicAuth
from stream.deploy import Deployment
from stream.exporter.agent_page import AgentPage
from stream.exporter.agents_json import agents_document
from stream.exporter.loop_turns import LoopTurns
from stream.exporter.queues_json import queues_document
from stream.exporter.text import page_sections
from stream.exporter.wallboard_files import ROUTES, SECURITY_HEADERS, WallboardFiles
from stream.faust_internals import consumer_lag
from stream.http_guard import HttpGuard
from stream.requests_waiting import RequestsWaiting
from stream.stage_timings import StageTimings
from stream.topology import Topology

SERVED_PATHS = (
    "/metrics",
    "/healthz",
    "/readyz",
    "/api/v1/agents",
    "/api/v1/queues",
    *ROUTES,  # the wallboard page
)  # all the HTTP side answers (docs/configuration.md)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"  # Prometheus's text format
FRESH_ON_SCRAPE_US = 200_000  # a scrape takes a new snapshot if the latest is older than this
# ... or, when queue updates wait for one, older than this, and than the snapshot and its
# rendering cost divided by SNAPSHOT_CPU_SHARE: what a scrape shows is then tens of
# milliseconds old, however often pages and Prometheus ask (issue 22)
FRESH_WHEN_UPDATED_US = 20_000
SNAPSHOT_CPU_SHARE = 0.25
# Reading thousands of agents takes a while (about 0.25 s for 5,000 on the project's machine):
# the agent list is read every timer tick, but never takes more than this share of the time.
AGENT_LIST_CPU_SHARE = 0.1


def web_options(deployment: Deployment, requests: RequestsWaiting) -> dict[str, Any]:
    """faust app settings: its own pages (router, tables, statistics, graph) off, the guard on,
    and ``requests`` counting the requests being answered."""
    auth = (
        BasicAuth(deployment.metrics_username, deployment.metrics_password)
        if deployment.metrics_username
        else None
    )
    return {
        "web_router_enabled": False,
        "web_tables_enabled": False,
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "web_metrics_enabled": False,
        # the guard first: only requests it lets through count as waiting
        "web_application_options": {
            "middlewares": [HttpGuard(SERVED_PATHS, auth).middleware, requests.middleware]
        },
    }


class Snapshots:
    """Takes snapshots of the owned queues and the feed's health; keeps the latest, rendered once.
    Without a topology (a benchmark, a test) every queue and agent is owned and no lag known."""

    def __init__(
        self,
        topology: Topology | None,
        queues: QueueStep,
        board: AgentBoard,
        stats: PipelineStats,
        clock: LiveClock,
        timings: StageTimings,
    ) -> None:
        self.topology, self.queues, self.board, self.stats, self.clock = topology, queues, board, stats, clock
        self.timings = timings
        self.page = AgentPage(board)
        self._cost_us = 0  # what the latest snapshot and its rendering took
        self._agents_due = 0.0  # time.monotonic() of the next agent list
        self.latest: Snapshot | None = None
        self._rendered: list[bytes] | None = None  # the latest snapshot's page, in parts
        self._taking = asyncio.Lock()  # one snapshot at a time
        self._paging = asyncio.Lock()  # one page at a time

    async def take(self) -> None:
        """A new snapshot, taken a queue at a time with turns of the event loop between."""
        async with self._taking:
            await self._take(LoopTurns())

    async def _take(self, turns: LoopTurns) -> None:
        began, moment = turns.worked_seconds(), self.clock.now_us()
        waiting_since = self.timings.snapshot_started()
        self._keep_owned()
        pipeline = self._feed_health()
        queues: list[QueueSnapshot] = []
        for queue in self.queues.each_snapshot(moment):
            queues.append(queue)
            await turns.give_if_due()
        self.timings.snapshotted(waiting_since)
        page = self.page  # agents are read at their own instant, by refresh_agents
        export = self.board.settings.agents.export
        self.latest = Snapshot(moment, tuple(queues), pipeline, page.agents, export, page.at_us)
        self._rendered = None
        took = turns.worked_seconds() - began
        self._cost_us = round(took * US)
        self.timings.observe("snapshot_work", took)

    def _keep_owned(self) -> None:
        """Forget the queues of partitions this worker no longer owns."""
        topology = self.topology
        if topology is not None:
            self.queues.keep_partitions(topology.owned_partitions(topology.queues))

    def _feed_health(self) -> PipelineSnapshot:
        topology, health = self.topology, self.stats.snapshot()
        if topology is None:
            return health
        return replace(health, lag_by_topic=consumer_lag(topology.app, topology.consumed()))

    async def refresh_agents(self) -> None:
        """The agent list anew (a timer's), when due: only owned agents, read in slices."""
        if time.monotonic() < self._agents_due:
            return
        started = time.monotonic()
        topology = self.topology
        if topology is not None:
            self.board.keep_partitions(topology.owned_partitions(topology.board))
        await self.page.refresh(self.clock.now_us())
        self._rendered = None
        took = time.monotonic() - started
        self._agents_due = started + took / AGENT_LIST_CPU_SHARE

    async def metrics_page(self) -> list[bytes]:
        """The latest snapshot as Prometheus text, in parts (:func:`page_parts`), a new
        snapshot first if the latest is older than a moment. Both are made in slices with
        turns of the event loop between: each takes about 0.1 s at 500 queues and 5,000
        agents, and done at once they held every event up for as long."""
        async with self._paging:  # a scrape arriving meanwhile gets the same page
            turns = LoopTurns()
            latest = await self.fresh(turns)
            return [] if latest is None else await self.rendered(latest, turns)

    async def rendered(self, snapshot: Snapshot, turns: LoopTurns | None = None) -> list[bytes]:
        """``snapshot``'s page in parts, rendered once while it is the latest."""
        if snapshot is self.latest and self._rendered is not None:
            return self._rendered
        turns = LoopTurns() if turns is None else turns
        began, parts, agent_part = turns.worked_seconds(), [], self.page.text
        for section in page_sections(snapshot, agent_part, self.timings.text()):
            parts += section
            await turns.give_if_due()
        took = turns.worked_seconds() - began
        self.timings.observe("render", took)
        # a newer snapshot, or a newer agent list, may have come meanwhile: not kept for them
        if snapshot is self.latest and agent_part is self.page.text:
            self._cost_us += round(took * US)
            self._rendered = parts
        return parts

    def agents(self) -> bytes:
        """The latest agent list as JSON (``/api/v1/agents``)."""
        page = self.page
        return agents_document(page.agents, page.at_us)

    async def queues_json(self, stale_after_seconds: float) -> bytes | None:
        """The latest queue snapshot as JSON (``/api/v1/queues``); ``None`` before the first."""
        latest = await self.fresh()
        return None if latest is None else queues_document(latest, stale_after_seconds)

    async def fresh(self, turns: LoopTurns | None = None) -> Snapshot | None:
        """The latest snapshot, taken anew if it is older than a moment (a shorter one when
        queue updates wait for it): a scrape sees what was processed until now. One being
        taken meanwhile (the timer's, another scrape's) is waited for, not taken again."""
        async with self._taking:
            if self._stale():
                await self._take(LoopTurns() if turns is None else turns)
        return self.latest

    def _stale(self) -> bool:
        latest = self.latest
        if latest is None:
            return False
        age = self.clock.now_us() - latest.at_us
        waited = max(FRESH_WHEN_UPDATED_US, round(self._cost_us / SNAPSHOT_CPU_SHARE))
        return age > FRESH_ON_SCRAPE_US or (self.timings.updates_wait() and age > waited)


def serve_pages(app: faust.App, snapshots: Snapshots, stale_after_seconds: float) -> None:
    """``/metrics``, ``/api/v1/queues``, ``/api/v1/agents``, the wallboard page, ``/healthz``
    (alive: the event loop answers), ``/readyz`` (a snapshot exists)."""
    serve_wallboard(app, snapshots, stale_after_seconds)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> web.StreamResponse:
            parts = await snapshots.metrics_page()
            return await write_parts(cast(web.Request, request), parts, METRICS_CONTENT_TYPE)

    @app.page("/api/v1/agents")
    class Agents(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(snapshots.agents(), content_type="application/json")

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"alive": True})

    @app.page("/readyz")
    class Readiness(View):
        async def get(self, request: Request) -> Response:
            ready = snapshots.latest is not None
            queues = len(snapshots.queues.states)
            return self.json({"ready": ready, "queues": queues}, status=200 if ready else 503)


async def write_parts(request: web.Request, parts: list[bytes], content_type: str) -> web.StreamResponse:
    """A response of ``parts`` written one after the other: never joined into one copy, and
    the event loop runs between them while the client reads."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = sum(map(len, parts))
    await response.prepare(request)
    if request.method != "HEAD":
        for part in parts:
            await response.write(part)
    await response.write_eof()
    return response


def serve_wallboard(app: faust.App, snapshots: Snapshots, stale_after_seconds: float) -> None:
    """The wallboard page (``/``, its script and stylesheet) and its ``/api/v1/queues``."""
    files = WallboardFiles.load()

    @app.page("/api/v1/queues")
    class Queues(View):
        async def get(self, request: Request) -> Response:
            body = await snapshots.queues_json(stale_after_seconds)
            if body is None:
                return self.json({"error": "no snapshot yet"}, status=503)
            return self.bytes(body, content_type="application/json")

    for path in ROUTES:
        _static_page(app, path, files)


def _static_page(app: faust.App, path: str, files: WallboardFiles) -> None:
    served = files.get(path)

    class Static(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(served.body, content_type=served.content_type, headers=dict(SECURITY_HEADERS))

    app.page(path, name=f"wallboard{path.replace('/', '_')}")(Static)
