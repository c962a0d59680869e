"""A scrape's snapshot and page are made in slices with turns of the event loop between: at 500
queues and 5,000 agents each takes about 0.1 s, and done at once they held every event up for
as long (``benchmarks/scrape_render.py`` times both). The page is the one replay renders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from typing import Any, cast

import pytest

from metrics.engine import Engine
from metrics.snapshot import Snapshot
from metrics.steps.clock import FixedClock
from metrics.timeutil import US, parse_rfc3339_us
from stream.exporter import http, loop_turns
from stream.exporter.http import FRESH_ON_SCRAPE_US, Snapshots
from stream.exporter.loop_turns import LoopTurns
from stream.exporter.text import page_sections as page_sections_of
from stream.exporter.text import render_with
from stream.stage_timings import StageTimings
from tests.helpers import engine_with_calls_waiting

NOW = parse_rfc3339_us("2026-01-05T10:30:00Z")
QUEUES = ("billing", "sales", "support")


class EngineSnapshots(Snapshots):
    """The worker's snapshot holder over an engine's steps (every queue owned), noting each
    snapshot it takes."""

    def __init__(self, engine: Engine, clock: FixedClock, log: list[str]) -> None:
        super().__init__(None, engine.queue_step, engine.board, engine.stats, clock, StageTimings())
        self.log, self.fixed_clock = log, clock

    async def _take(self, turns: LoopTurns) -> None:
        self.log.append("take")
        await super()._take(turns)


@pytest.fixture
def snapshots(log: list[str]) -> EngineSnapshots:
    """A holder over a queued call in each of three queues, its first snapshot taken at ``NOW``."""
    made = EngineSnapshots(engine_with_calls_waiting(*QUEUES), FixedClock(NOW), log)
    asyncio.run(made.take())
    return made


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    found: list[str] = []

    def page_sections(*args: Any) -> Iterator[list[bytes]]:
        found.append("render")
        return page_sections_of(*args)

    monkeypatch.setattr(http, "page_sections", page_sections)
    return found


@pytest.mark.parametrize(("slice_seconds", "most_turns"), [(0.0, None), (60.0, 1)])
async def test_a_scrape_gives_the_loop_turns_while_it_snapshots_and_renders(
    snapshots: EngineSnapshots,
    monkeypatch: pytest.MonkeyPatch,
    slice_seconds: float,
    most_turns: int | None,
) -> None:
    monkeypatch.setattr(loop_turns, "SLICE_SECONDS", slice_seconds)
    snapshots.fixed_clock.instant_us += FRESH_ON_SCRAPE_US + US  # stale: a scrape takes a new one
    parts, turns = await _with_turns_counted(snapshots.metrics_page())
    sections = len(list(page_sections_of(cast(Snapshot, snapshots.latest), b"")))
    if most_turns is None:  # a turn after most queues snapshotted and sections rendered (a
        # step shorter than the turn before it gives none: the others keep no more than half)
        assert turns >= (len(QUEUES) + sections) // 2
    else:  # work under a slice holds the loop throughout
        assert turns <= most_turns
    latest = cast(Snapshot, snapshots.latest)
    assert latest.at_us == snapshots.fixed_clock.instant_us and len(latest.queues) == len(QUEUES)
    assert b"".join(parts) == render_with(latest, snapshots.page.text, b"".join(parts[-1:]))


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
    await snapshots.take()  # while the older one was waiting for its rendering
    latest = cast(Snapshot, snapshots.latest)
    await snapshots.rendered(older)
    page = await snapshots.rendered(latest)
    assert log == ["take", "take", "render", "render"]  # the older's page was not kept as the latest's
    assert await snapshots.rendered(latest) is page and log[-1] == "render"


async def test_a_page_rendered_across_a_new_agent_list_is_not_kept(
    snapshots: EngineSnapshots, log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_turns, "SLICE_SECONDS", 0.0)
    latest, agent_part = cast(Snapshot, snapshots.latest), snapshots.page.text
    rendering = asyncio.ensure_future(snapshots.rendered(latest))
    await asyncio.sleep(0)  # the rendering has begun, with the agent list of then
    await snapshots.refresh_agents()
    assert snapshots.page.text != agent_part and (await rendering)
    await snapshots.rendered(latest)
    assert log == ["take", "render", "render"]  # rendered again, with the new agent list


async def test_a_scrape_during_a_snapshot_waits_for_it_rather_than_taking_another(
    snapshots: EngineSnapshots, log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop_turns, "SLICE_SECONDS", 0.0)
    snapshots.fixed_clock.instant_us += FRESH_ON_SCRAPE_US + US  # the latest is stale
    timer = asyncio.ensure_future(snapshots.take())
    await asyncio.sleep(0)  # the timer's snapshot has begun, and given the loop a turn
    assert log == ["take", "take"] and not timer.done()
    parts = await snapshots.metrics_page()
    assert timer.done() and log == ["take", "take", "render"]
    assert cast(Snapshot, snapshots.latest).at_us == snapshots.fixed_clock.instant_us and parts


async def _with_turns_counted(work: Awaitable[list[bytes]]) -> tuple[list[bytes], int]:
    """``work``'s result, and how many turns another task had while it ran."""
    task, turns = asyncio.ensure_future(work), 0
    while not task.done():
        turns += 1
        await asyncio.sleep(0)
    return task.result(), turns
