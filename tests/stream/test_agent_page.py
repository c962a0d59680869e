"""The worker's agent list, read in slices, is the same page replay renders at that instant."""

from __future__ import annotations

import asyncio

import pytest

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.timeutil import US, parse_rfc3339_us
from stream.exporter import agent_page, loop_turns
from stream.exporter.agent_page import AgentPage
from stream.exporter.text import agents_text
from tests.helpers import ev

NOW = parse_rfc3339_us("2026-01-05T10:30:00Z")


def engine_with(agents: int) -> Engine:
    engine = Engine(Settings.from_toml('[agents]\nreasons = ["Break"]\nwindows = ["today", "15m"]'))
    for n in range(agents):
        agent = f"a{n:03d}"
        engine.apply(
            ev("agent.state", "2026-01-05T10:00:00Z", agent_id=agent, state="available", queues=("q",))
        )
        engine.apply(ev("agent.state", "2026-01-05T10:10:00Z", agent_id=agent, state="away", reason="Break"))
        engine.apply(
            ev("call.agent_no_answer", "2026-01-05T10:05:00Z", call_id=f"c{n}", queue="q", agent_id=agent)
        )
    engine.flush()
    return engine


def test_the_page_is_what_replay_renders_at_its_instant() -> None:
    engine = engine_with(7)
    page = AgentPage(engine.board)
    asyncio.run(page.refresh(NOW))
    replayed = engine.snapshot(NOW)
    assert page.agents == replayed.agents and page.at_us == NOW
    assert page.text == agents_text(replayed.agents, "full", NOW)
    assert b'callcenter_agent_missed_calls{agent="a006",window="today"} 1' in page.text


def test_the_event_loop_runs_between_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_with(30)
    monkeypatch.setattr(agent_page, "AGENTS_PER_STEP", 4)
    monkeypatch.setattr(agent_page, "ROWS_PER_STEP", 10)
    monkeypatch.setattr(loop_turns, "SLICE_SECONDS", 0.0)  # a turn after most steps
    page, turns = AgentPage(engine.board), 0

    async def run() -> None:
        nonlocal turns
        refreshing = asyncio.create_task(page.refresh(NOW + US))
        while not refreshing.done():
            turns += 1
            await asyncio.sleep(0)

    asyncio.run(run())
    assert turns > 8 and len(page.agents) == 30
    assert page.text == agents_text(engine.snapshot(NOW + US).agents, "full", NOW + US)
