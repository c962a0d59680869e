"""The worker's agent list, made in slices: the agent part of ``/metrics`` and ``/api/v1/agents``.

Thousands of agents take longer to read and render than a scrape should wait or the event loop
should stall, and their values move with the clock only (time in state). So a timer refreshes
this page a slice of time at a time, the event loop free between slices, all read at one
instant; a scrape sends the latest page as it is. Usage::

    page = AgentPage(board)
    await page.refresh(now_us)          # on a timer
    page.agents, page.text              # AgentSnapshots for the JSON list, bytes for /metrics
"""

from __future__ import annotations

from metrics.snapshot import AgentSnapshot
from metrics.steps.agent_board import AgentBoard
from stream.exporter.catalogue import Family, Row, agent_families
from stream.exporter.loop_turns import LoopTurns
from stream.exporter.text import LabelText, Lines, agents_time, encoded, family_header, family_rows

# Agents read, and rows rendered, between looks at the clock (a millisecond or so of work):
# the event loop gets a turn whenever a slice of time has passed (:mod:`loop_turns`).
AGENTS_PER_STEP = 25
ROWS_PER_STEP = 1_000


class AgentPage:
    """The latest agent list and its rendered families."""

    def __init__(self, board: AgentBoard) -> None:
        self.board = board
        self.agents: tuple[AgentSnapshot, ...] = ()
        self.text = b""
        self.at_us: int | None = None

    async def refresh(self, now_us: int) -> None:
        """Read every agent at ``now_us`` and render the families, a slice at a time."""
        turns = LoopTurns()
        agents, families = await self._read(now_us, turns)
        out: Lines = []
        esc = LabelText()
        for family in families:
            family_header(out, family)
            for start in range(0, len(family.rows), ROWS_PER_STEP):
                family_rows(out, family, family.rows[start : start + ROWS_PER_STEP], esc)
                await turns.give_if_due()
            await _let_go(family.rows, turns)
        agents_time(out, self.board.settings.agents.export, now_us)
        self.agents, self.text, self.at_us = agents, b"".join(encoded(out)), now_us

    async def _read(self, now_us: int, turns: LoopTurns) -> tuple[tuple[AgentSnapshot, ...], list[Family]]:
        board = self.board
        ledgers = [board.ledgers[agent] for agent in sorted(board.ledgers)]
        export = board.settings.agents.export
        agents: list[AgentSnapshot] = []
        families = agent_families((), export)  # each slice's rows are added to these, not copied
        for start in range(0, len(ledgers), AGENTS_PER_STEP):
            chunk = tuple(ledger.snapshot(now_us) for ledger in ledgers[start : start + AGENTS_PER_STEP])
            agents += chunk
            for family, part in zip(families, agent_families(chunk, export), strict=True):
                family.rows.extend(part.rows)
            await turns.give_if_due()
        return tuple(agents), families


async def _let_go(rows: list[Row], turns: LoopTurns) -> None:
    """Free rows once written, a step at a time: 5,000 agents' rows freed all at once, as the
    refresh returned, held the event loop for 70 ms (``benchmarks/scrape_render.py``)."""
    while rows:
        del rows[-ROWS_PER_STEP:]
        await turns.give_if_due()
