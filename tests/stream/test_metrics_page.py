"""A scrape that takes a fresh snapshot gives the event loop a turn before rendering it: at 500
queues and 5,000 agents each takes about 0.1 s, and done at once they held every event up for
both (``benchmarks/scrape_render.py`` times each)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from metrics.steps.clock import FixedClock
from metrics.timeutil import US, parse_rfc3339_us
from stream.exporter import http
from stream.exporter.http import FRESH_ON_SCRAPE_US, Snapshots
from stream.exporter.text import page_parts as page_parts_of
from stream.exporter.text import render_with
from stream.stage_timings import StageTimings
from stream.topology import Topology
from tests.helpers import ev

NOW = parse_rfc3339_us("2026-01-05T10:30:00Z")


class EngineSnapshots(Snapshots):
    """The worker's snapshot holder over an engine's steps; what needs a running faust app
    (owned partitions, consumer lag) is left out of taking a snapshot."""

    def __init__(self, engine: Engine, clock: FixedClock, log: list[str]) -> None:
        super().__init__(
            cast(Topology, None), engine.queue_step, engine.board, engine.stats, clock, StageTimings()
        )
        self.log, self.fixed_clock = log, clock

    def _take(self) -> None:
        self.log.append("take")
        moment = self.clock.now_us()
        self.latest = Snapshot(moment, self.queues.snapshot(moment), self.stats.snapshot())
        self._rendered = None


@pytest.fixture
def snapshots(log: list[str]) -> EngineSnapshots:
    """A holder over one queued call, its first snapshot taken at ``NOW``."""
    engine = Engine(Settings())
    engine.apply(ev("call.queued", "2026-01-05T10:00:00Z", call_id="c1", queue="sales"))
    engine.flush()
    made = EngineSnapshots(engine, FixedClock(NOW), log)
    made.take()
    return made


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    found: list[str] = []

    def page_parts(*args: Any) -> list[bytes]:
        found.append("render")
        return page_parts_of(*args)

    monkeypatch.setattr(http, "page_parts", page_parts)
    return found


async def test_the_loop_has_a_turn_between_a_fresh_snapshot_and_its_rendering(
    snapshots: EngineSnapshots, log: list[str]
) -> None:
    snapshots.fixed_clock.instant_us += FRESH_ON_SCRAPE_US + US  # stale: a scrape takes a new one
    waiting = asyncio.ensure_future(_note_turn(log))
    parts = await snapshots.metrics_page()
    await waiting
    assert log == ["take", "take", "turn", "render"]
    assert b"".join(parts) == render_with(
        cast(Snapshot, snapshots.latest), snapshots.page.text, b"".join(parts[-1:])
    )


async def test_a_page_is_rendered_once_while_its_snapshot_is_the_latest(
    snapshots: EngineSnapshots, log: list[str]
) -> None:
    first = await snapshots.metrics_page()
    assert await snapshots.metrics_page() is first and log == ["take", "render"]


async def test_a_page_rendered_after_a_newer_snapshot_is_not_kept_for_it(
    snapshots: EngineSnapshots, log: list[str]
) -> None:
    older = cast(Snapshot, snapshots.latest)
    snapshots.fixed_clock.instant_us += US
    snapshots.take()  # while the older one was waiting for its rendering
    latest = cast(Snapshot, snapshots.latest)
    snapshots.rendered(older)
    page = snapshots.rendered(latest)
    assert log == ["take", "take", "render", "render"]  # the older's page was not kept as the latest's
    assert snapshots.rendered(latest) is page and log[-1] == "render"


async def _note_turn(log: list[str]) -> None:
    log.append("turn")
