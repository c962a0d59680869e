"""Per-queue state: the visits of calls, the agents serving it, and the window sums.

Usage::

    state = QueueState("sales", settings)
    state.apply_visit(visit)                 # idempotent: the same visit twice is a no-op
    state.apply_agent(history)
    snapshot = state.snapshot(now_us)        # now must not go back between snapshots
"""

from __future__ import annotations

from typing import NamedTuple

from metrics import rules
from metrics.agents import AgentHistory
from metrics.events import AGENT_STATES
from metrics.packing import COLD_AFTER_US, last_us_of
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import QueueSnapshot, WindowValues
from metrics.timeutil import US, day_start_us, local_date
from metrics.visits import Visit
from metrics.windows import TOTAL, WindowSums


class LetGo(NamedTuple):
    """What :meth:`QueueState.forget` let go of, and the visits it packed."""

    calls: list[str]
    agents: list[str]
    packed: dict[str, bytes]  # call id -> its visit, now kept packed


class QueueState:
    """All state of one queue; owned by exactly one worker at a time."""

    def __init__(self, queue: str, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings.for_queue(queue)
        self.limits = settings.limits
        self.wait_bounds = settings.wait_buckets_seconds()
        self._bounds_us = tuple(round(b * US) for b in self.wait_bounds)
        self._max_agent_age_us = settings.limits.max_agent_age_us
        self._max_call_age_us = settings.limits.max_call_age_us  # a property that computes: read once
        self.visits: dict[str, Visit | bytes] = {}  # packed once cold: see metrics/packing.py
        self.agents: dict[str, AgentHistory] = {}
        self._waiting: dict[str, tuple[int, int]] = {}  # call id -> [queued, end)
        slots = rules.slot_count(self._bounds_us)
        self.sums = WindowSums(slots, self.settings.window_us, self.settings.zone)
        self.settled = Settled.empty(slots)
        # A visit is let go once none of its contributions (at most max_call_age after its
        # newest fact) can fall inside a rolling window; "settled" keeps them for today and total.
        widest = max(self.settings.window_us.values(), default=0)
        self._keep_visit_us = max(self.limits.forget_call_after_us, widest + self.limits.max_call_age_us)

    def apply_visit(self, visit: Visit) -> None:
        """Replace what is known of one call in this queue."""
        old = self.visit(visit.call_id)
        if old == visit:
            return
        if old is not None:
            self._contribute(old, -1)
        self._contribute(visit, +1)
        self.visits[visit.call_id] = visit
        interval = rules.waiting_interval(visit, self._max_call_age_us)
        now = self.sums.now_us
        if interval is None or (now is not None and interval[1] <= now):  # not waiting at now or later
            self._waiting.pop(visit.call_id, None)
        else:
            self._waiting[visit.call_id] = interval

    def restore_visit(self, call_id: str, stored: Visit | bytes) -> None:
        """After a restart: apply a kept visit, and keep it packed if it was."""
        self.apply_visit(Visit.unpack(call_id, self.queue, stored) if isinstance(stored, bytes) else stored)
        if isinstance(stored, bytes):
            self.visits[call_id] = stored

    def visit(self, call_id: str) -> Visit | None:
        """The visit of ``call_id``, unpacked if need be."""
        stored = self.visits.get(call_id)
        if isinstance(stored, bytes):
            return Visit.unpack(call_id, self.queue, stored)
        return stored

    def apply_agent(self, history: AgentHistory) -> None:
        """Replace what is known of one agent that serves, or served, this queue."""
        self.agents[history.agent_id] = history

    def snapshot(self, now_us: int) -> QueueSnapshot:
        """The queue's metrics at ``now_us``; also lets go of state too old to matter."""
        self.sums.advance(now_us)
        values = {name: WindowValues(tuple(s)) for name, s in self.sums.values().items()}
        total = values.pop(TOTAL)
        waiting, longest = self._waiting_at(now_us)
        return QueueSnapshot(
            queue=self.queue,
            threshold_seconds=self.settings.service_level_threshold_seconds,
            target_ratio=self.settings.service_level_target,
            windows=values,
            total=total,
            wait_bounds_seconds=self.wait_bounds,
            waiting=waiting,
            longest_wait_seconds=longest / US,
            agents=self._agents_at(now_us),
            alert_min_counted_calls=self.settings.alert_min_counted_calls,
            alert_longest_wait_seconds=self.settings.alert_longest_wait_seconds,
            alert_abandon_ratio=self.settings.alert_abandon_ratio,
            timezone=self.settings.timezone,
        )

    def _contribute(self, visit: Visit, sign: int) -> None:
        max_age = self._max_call_age_us
        self.sums.add_all(rules.contributions(visit, self.settings, self._bounds_us, max_age), sign)

    def _waiting_at(self, now_us: int) -> tuple[int, int]:
        self._waiting = {c: w for c, w in self._waiting.items() if w[1] > now_us}  # ended: never again
        waits = [now_us - start for start, _ in self._waiting.values() if start <= now_us]
        return len(waits), max(waits, default=0)

    def _agents_at(self, now_us: int) -> dict[str, int]:
        counts = dict.fromkeys(AGENT_STATES, 0)
        for history in self.agents.values():
            current = history.at(now_us, self._max_agent_age_us)
            if current is not None and self.queue in current[1]:
                counts[current[0]] += 1
        return counts

    def forget(self, now_us: int, pack_cold: bool = False) -> LetGo:
        """Let go of state too old to matter; with ``pack_cold``, pack visits gone quiet.

        Sums stay counted; the let-go visits' contributions go to :attr:`settled`, which a
        restarted worker restores so that ``today`` and ``total`` stay exact.
        """
        calls, packed = self._sort_visits(now_us, pack_cold)
        today = day_start_us(local_date(now_us, self.settings.zone), self.settings.zone)
        max_age = self._max_call_age_us
        for call_id in calls:
            visit = self.visit(call_id)
            assert visit is not None
            del self.visits[call_id]
            self.settled.add(rules.contributions(visit, self.settings, self._bounds_us, max_age), today)
        self.visits.update(packed)
        oldest_agent = now_us - self.limits.forget_agent_after_us
        agents = [a for a, h in self.agents.items() if not h.changes or h.changes[-1][0] < oldest_agent]
        for agent_id in agents:
            del self.agents[agent_id]
        return LetGo(calls, agents, packed)

    def _sort_visits(self, now_us: int, pack_cold: bool) -> tuple[list[str], dict[str, bytes]]:
        """The calls whose visits are too old to keep, and the cold visits packed."""
        oldest, cold = now_us - self._keep_visit_us, now_us - COLD_AFTER_US if pack_cold else 0
        calls, packed = [], {}
        for call_id, stored in self.visits.items():
            last_us = last_us_of(stored)
            if last_us < oldest:
                calls.append(call_id)
            elif last_us < cold and isinstance(stored, Visit):
                packed[call_id] = stored.pack()
        return calls, packed

    def restore_settled(self, settled: Settled) -> None:
        """After a restart: count what visits let go before it contributed (before any snapshot)."""
        self.settled = settled
        self.sums.restore(settled)
