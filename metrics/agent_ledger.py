"""Per-agent board state: the agent's time in state and its calls, in window sums.

The agent's counterpart of :class:`~metrics.queue_state.QueueState`: it is told the agent's
timeline and each of its calls (whole states, so telling twice is harmless), keeps their
contributions in :class:`~metrics.windows.WindowSums` over the ``[agents]`` windows and time
zone, and reads an :class:`~metrics.snapshot.AgentSnapshot` at any instant. Usage::

    ledger = AgentLedger("a1", settings)
    ledger.apply_timeline(timeline)
    ledger.apply_call(AgentCall("c1", "a1", last_us=..., handled_us=..., handle_us=...))
    ledger.snapshot(now_us)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from metrics.agent_calls import (
    CALL_SLOTS,
    HANDLE_US,
    HANDLED,
    MISSED,
    TRANSFERRED,
    AgentCall,
    call_contributions,
)
from metrics.agent_time import STATE_SLOTS, seconds_in_window, timeline_changes
from metrics.agent_timeline import AgentTimeline
from metrics.rules import SURVEY_SLOTS, Contribution
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import AgentSnapshot, AgentWindow
from metrics.timeutil import day_start_us, local_date
from metrics.windows import TODAY, TOTAL, WindowSums

CALLS: Final = STATE_SLOTS  # the call slots follow the time-in-state ones, then the survey slots
SURVEYS: Final = CALLS + CALL_SLOTS
SLOTS: Final = SURVEYS + SURVEY_SLOTS


def _nothing_cold(call_id: str) -> AgentCall | None:
    return None


class AgentLedger:
    """All the board knows of one agent; owned by one worker at a time, as the agent is."""

    def __init__(
        self, agent_id: str, settings: Settings, cold_call: Callable[[str], AgentCall | None] = _nothing_cold
    ) -> None:
        self.agent_id = agent_id
        self._cold_call = cold_call  # a call released to the cold store, by call id
        self.last_call_us = 0  # the newest event of any of its calls, hot or cold
        self.settings = settings.agents
        self.max_age_us = settings.limits.max_agent_age_us
        self.keep_call_us = settings.limits.expire_call_after_us
        self.timeline: AgentTimeline | None = None
        self.calls: dict[str, AgentCall] = {}
        self.sums = WindowSums(SLOTS, self.settings.window_us, self.settings.zone)
        self.settled = Settled.empty(SLOTS)
        self.settled_changed = False  # settled since the worker last stored it

    def apply_timeline(self, timeline: AgentTimeline) -> None:
        """Replace what is known of the agent's states."""
        changes = timeline_changes(self.timeline, timeline, self.max_age_us, 0)
        changes.count_in(self.sums)
        if changes.settled:
            self._settle(changes.settled, changes.settled_at(self.sums))
        self.timeline = timeline

    def apply_call(self, told: AgentCall) -> None:
        """Replace what is known of one of the agent's calls (hot, or released cold)."""
        old = self.calls.get(told.call_id)
        if old is None:
            old = self._cold_call(told.call_id)
        self.last_call_us = max(self.last_call_us, told.last_us)
        if old == told:
            return
        taken_back = [] if old is None else call_contributions(old, CALLS)
        self.sums.replace(taken_back, call_contributions(told, CALLS))
        self.calls[told.call_id] = told

    def snapshot(self, now_us: int) -> AgentSnapshot:
        """The agent at ``now_us``: state now, and each ``[agents]`` window."""
        self.sums.advance(now_us)
        values = self.sums.values()
        windows = {name: self._window(values, name, now_us) for name in self.settings.windows}
        current = None if self.timeline is None else self.timeline.current(now_us, self.max_age_us)
        if current is None:
            return AgentSnapshot(self.agent_id, None, None, None, (), windows)
        phase, since_us = current
        reason = self.settings.reason_label(phase.reason) if phase.state == "away" else None
        return AgentSnapshot(self.agent_id, phase.state, reason, since_us, phase.queues, windows)

    def _window(self, values: dict[str, list[int]], name: str, now_us: int) -> AgentWindow:
        sums = values[name]
        lower = self.sums.day_start_us if name == TODAY else now_us - self.settings.window_us[name]
        return AgentWindow(
            seconds_in_window(sums, values[TOTAL], 0, lower, now_us),
            handled=sums[CALLS + HANDLED],
            handle_us=sums[CALLS + HANDLE_US],
            transferred=sums[CALLS + TRANSFERRED],
            missed=sums[CALLS + MISSED],
            surveys=tuple(sums[SURVEYS:]),
        )

    def restore_cold(self, told: AgentCall) -> None:
        """After a restart: count a call kept in the cold store (before the hot ones)."""
        self.sums.add_all(call_contributions(told, CALLS), +1)
        self.last_call_us = max(self.last_call_us, told.last_us)

    def release_quiet(self, before_us: int) -> list[AgentCall]:
        """Hand over the hot calls with no event since ``before_us``: the caller keeps them cold."""
        quiet = [told for told in self.calls.values() if told.last_us < before_us]
        for told in quiet:
            del self.calls[told.call_id]
        return quiet

    def expire(self, now_us: int) -> list[str]:
        """Forget hot calls expired at ``now_us`` (they stay counted); their ids."""
        oldest = now_us - self.keep_call_us
        gone = [call_id for call_id, told in self.calls.items() if told.last_us < oldest]
        for call_id in gone:
            self._settle(call_contributions(self.calls.pop(call_id), CALLS), now_us)
        return gone

    def expire_cold(self, told: AgentCall, now_us: int) -> bool:
        """A call expired from the cold store: settle it, unless it is hot again (then ``False``)."""
        if told.call_id in self.calls:
            return False  # the cold copy was out of date; the hot call replaced its contributions
        self._settle(call_contributions(told, CALLS), now_us)
        return True

    def is_empty_at(self, now_us: int) -> bool:
        """Nothing left to show: every call expired, and the agent silent for twice its maximum age."""
        newest = 0 if self.timeline is None else self.timeline.newest_us()
        calls_kept = self.calls or self.last_call_us >= now_us - self.keep_call_us
        return not calls_kept and newest < now_us - 2 * self.max_age_us

    def _settle(self, contributions: list[Contribution], now_us: int) -> None:
        """Count contributions no longer held in the timeline or calls, for a restart."""
        zone = self.settings.zone
        self.settled.add(contributions, day_start_us(local_date(now_us, zone), zone))
        self.settled_changed = True

    def restore_settled(self, settled: Settled) -> None:
        """After a restart, before anything is applied: what was settled before it."""
        self.settled = settled.padded(SLOTS)
        self.sums.restore(self.settled)
