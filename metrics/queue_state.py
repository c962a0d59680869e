"""Per-queue state: the visits of calls, the agents serving it, and the window sums.

Usage::

    state = QueueState("sales", settings)
    state.apply_visit(visit)                 # idempotent: the same visit twice is a no-op
    state.apply_agent(timeline)
    snapshot = state.snapshot(now_us)        # now must not go back between snapshots

The queue knows nothing of bytes: the storage layer (:mod:`metrics.storage`) takes visits
gone quiet (:meth:`QueueState.release_quiet`), packs them, gives them back through
``cold_visit`` and says when they expire (:meth:`QueueState.expire_cold`).
:meth:`~QueueState.snapshot` reads; :meth:`~QueueState.expire` drops what is too old.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from metrics import rules
from metrics.agent_time import STATE_SLOTS, seconds_in_window, timeline_changes, timeline_contributions
from metrics.agent_timeline import AgentTimeline
from metrics.callers import Verdict
from metrics.contract.events import AGENT_STATES
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import QueueSnapshot, WindowValues
from metrics.timeutil import US, day_start_us, local_date
from metrics.visits import Visit, told_of_caller
from metrics.waiting import WaitingCalls
from metrics.windows import TODAY, TOTAL, WindowSums


class Expired(NamedTuple):
    """What :meth:`QueueState.expire` dropped: call ids of visits, and agent ids."""

    calls: list[str]
    agents: list[str]


class AgentsNow(NamedTuple):
    """Agents serving a queue by state and away by reason, the same from ``from_us`` to ``until_us``."""

    from_us: int
    until_us: int
    counts: dict[str, int]
    away: dict[str, int]


def keep_visit_us(settings: Settings, queue: str) -> int:
    """How long after its newest fact a queue keeps a visit.

    Until none of its contributions (at most max_call_age after its newest fact) can fall
    inside a rolling window; then "settled" keeps them for today and total.
    """
    limits, widest = settings.limits, max(settings.for_queue(queue).window_us.values(), default=0)
    return max(limits.expire_call_after_us, widest + limits.max_call_age_us)


def _nothing_cold(call_id: str) -> Visit | None:
    return None


class QueueState:
    """All state of one queue; owned by exactly one worker at a time."""

    def __init__(
        self, queue: str, settings: Settings, cold_visit: Callable[[str], Visit | None] = _nothing_cold
    ) -> None:
        self.queue = queue
        self.settings = settings.for_queue(queue)
        self.limits = settings.limits
        self.wait_bounds = settings.wait_buckets_seconds()
        self._bounds_us = tuple(round(b * US) for b in self.wait_bounds)
        self._max_agent_age_us = settings.limits.max_agent_age_us
        self._max_call_age_us = settings.limits.max_call_age_us  # a property that computes: read once
        self.visits: dict[str, Visit] = {}  # the hot ones; see the module's docstring
        self._cold_visit = cold_visit
        self.agents: dict[str, AgentTimeline] = {}  # as last told (never changed after)
        self._agents_now: AgentsNow | None = None  # the counts at an instant, while they hold
        self._agent_settings = settings.agents
        self._waiting = WaitingCalls()
        self._agent_base = rules.slot_count(self._bounds_us)  # agents' time in state follows the calls' slots
        self._reasons_base = self._agent_base + STATE_SLOTS  # flow-outs by reason come last
        self._repeats_base = self._reasons_base + len(rules.FLOW_OUT_REASONS) + rules.SURVEY_SLOTS
        slots = self._repeats_base + rules.REPEAT_SLOTS  # repeat calls last
        self.sums = WindowSums(slots, self.settings.window_us, self.settings.zone)
        self.settled = Settled.empty(slots)
        self.settled_changed = False  # settled since the worker last stored it
        self.keep_visit_us = keep_visit_us(settings, queue)
        # read by each snapshot's staffing, never changed: made once, shared by every snapshot
        self._rolling_seconds = {name: width / US for name, width in self.settings.window_us.items()}

    def apply_visit(self, visit: Visit) -> Visit:
        """Replace what the calls step knows of one call in this queue; the visit as now kept
        (with what the callers step told of it, which the calls step never knows)."""
        old = self.visit(visit.call_id)
        if old is not None and old.identified is not None and visit.identified is None:
            visit = told_of_caller(visit, old.identified, visit.last_us)
        self._replace(old, visit)
        return visit

    def apply_verdict(self, verdict: Verdict) -> Visit:
        """Take what the callers step says of one call in this queue; the visit as now kept.

        Of several verdicts on one call (a call queued twice here), the earliest counts.
        """
        old = self.visit(verdict.call_id)
        base = Visit(verdict.call_id, self.queue, verdict.at_us) if old is None else old
        told = (verdict.at_us, verdict.repeat)
        if base.identified is not None:
            told = min(base.identified, told, key=lambda kept: (kept[0], not kept[1]))
        visit = told_of_caller(base, told, max(base.last_us, verdict.at_us))
        self._replace(old, visit)
        return visit

    def _replace(self, old: Visit | None, visit: Visit) -> None:
        if old == visit:
            return
        self.sums.replace([] if old is None else self._contributions(old), self._contributions(visit))
        self._follow(visit)
        self.visits[visit.call_id] = visit

    def restore_cold(self, visit: Visit) -> None:
        """After a restart: count a visit kept in the cold store.

        Cold visits are restored before hot ones: a hot visit then replaces its cold copy.
        """
        self._count(visit)

    def visit(self, call_id: str) -> Visit | None:
        """The visit of ``call_id``, hot or cold."""
        visit = self.visits.get(call_id)
        return self._cold_visit(call_id) if visit is None else visit

    def _count(self, visit: Visit) -> None:
        """Add a visit's contributions, and follow it while it waits."""
        self.sums.add_all(self._contributions(visit), +1)
        self._follow(visit)

    def _follow(self, visit: Visit) -> None:
        """Follow the visit while it waits."""
        interval = rules.waiting_interval(visit, self._max_call_age_us)
        now = self.sums.now_us
        if interval is None or (now is not None and interval[1] <= now):  # not waiting at now or later
            self._waiting.discard(visit.call_id)
        else:
            self._waiting.hold(visit.call_id, interval)

    def apply_agent(self, timeline: AgentTimeline) -> None:
        """Replace what is known of one agent that serves, or served, this queue.

        Its time in each state while serving this queue counts in the queue's sums.
        """
        old = self.agents.get(timeline.agent_id)
        changes = timeline_changes(old, timeline, self._max_agent_age_us, self._agent_base, self.queue)
        changes.count_in(self.sums)
        if changes.settled:
            self._settle(changes.settled, changes.settled_at(self.sums))
        self.agents[timeline.agent_id] = timeline
        self._agents_now = None

    def snapshot(self, now_us: int) -> QueueSnapshot:
        """The queue's metrics at ``now_us``: the windows move to it, nothing expires."""
        self.sums.advance(now_us)
        sums = self.sums.values()
        base = self._agent_base  # the calls' slots; the agents' follow, read as seconds
        reasons = self._reasons_base
        surveys, repeats = reasons + len(rules.FLOW_OUT_REASONS), self._repeats_base
        values = {
            name: WindowValues(
                tuple(s[:base]), tuple(s[reasons:surveys]), tuple(s[surveys:repeats]), tuple(s[repeats:])
            )
            for name, s in sums.items()
        }
        total = values.pop(TOTAL)
        waiting, longest = self._waiting.at(now_us)
        agents, away = self._agents_at(now_us)
        return QueueSnapshot(
            queue=self.queue,
            threshold_seconds=self.settings.service_level_threshold_seconds,
            target_ratio=self.settings.service_level_target,
            windows=values,
            total=total,
            wait_bounds_seconds=self.wait_bounds,
            waiting=waiting,
            longest_wait_seconds=longest / US,
            agents=agents,
            agent_seconds=self._agent_seconds(sums, now_us),
            away_by_reason=away,
            alert_min_counted_calls=self.settings.alert_min_counted_calls,
            alert_longest_wait_seconds=self.settings.alert_longest_wait_seconds,
            alert_abandon_ratio=self.settings.alert_abandon_ratio,
            timezone=self.settings.timezone,
            alert_agent_wrap_up_seconds=self.settings.alert_agent_wrap_up_seconds,
            alert_occupancy_ratio=self.settings.alert_occupancy_ratio,
            alert_csat_ratio=self.settings.alert_csat_ratio,
            alert_min_survey_responses=self.settings.alert_min_survey_responses,
            alert_repeat_call_ratio=self.settings.alert_repeat_call_ratio,
            alert_min_identified_calls=self.settings.alert_min_identified_calls,
            rolling_seconds=self._rolling_seconds,
        )

    def _agent_seconds(self, sums: dict[str, list[int]], now_us: int) -> dict[str, dict[str, float]]:
        """Per window, the seconds the agents serving the queue spent in each state."""
        lower = {name: now_us - width for name, width in self.settings.window_us.items()}
        lower[TODAY] = self.sums.day_start_us
        total, base = sums[TOTAL], self._agent_base
        return {name: seconds_in_window(sums[name], total, base, lower[name], now_us) for name in lower}

    def _contributions(self, visit: Visit) -> list[rules.Contribution]:
        max_age = self._max_call_age_us
        return rules.contributions(visit, self.settings, self._bounds_us, max_age, self._reasons_base)

    def _agents_at(self, now_us: int) -> tuple[dict[str, int], dict[str, int]]:
        """Agents serving the queue now, by state; and those away, by reason label."""
        cached = self._agents_now
        if cached is None or not cached.from_us <= now_us < cached.until_us:
            cached = self._agents_now = self._count_agents(now_us)
        return dict(cached.counts), dict(cached.away)

    def _count_agents(self, now_us: int) -> AgentsNow:
        """The counts at ``now_us``, and until when they hold: the next change of any agent, or
        the instant one is gone (the counts change at no other instant)."""
        counts, away = dict.fromkeys(AGENT_STATES, 0), dict[str, int]()
        until, max_age = 2**63, self._max_agent_age_us
        for timeline in self.agents.values():
            until = min(until, timeline.next_boundary_us(now_us, max_age))
            current = timeline.current(now_us, max_age)
            if current is not None and self.queue in current[0].queues:
                phase = current[0]
                counts[phase.state] += 1
                if phase.state == "away":
                    label = self._agent_settings.reason_label(phase.reason)
                    away[label] = away.get(label, 0) + 1
        return AgentsNow(now_us, until, counts, away)

    def expire(self, now_us: int) -> Expired:
        """Drop visits and agents too old to matter, and waits that ended.

        Sums stay counted: the expired visits' contributions go to :attr:`settled`, which a
        restarted worker restores so that ``today`` and ``total`` stay exact.
        """
        oldest = now_us - self.keep_visit_us
        calls = [call_id for call_id, visit in self.visits.items() if visit.last_us < oldest]
        for call_id in calls:
            self._add_to_settled(self.visits.pop(call_id), now_us)
        oldest_agent = now_us - self.limits.expire_agent_after_us
        agents = [a for a, h in self.agents.items() if h.newest_us() < oldest_agent]
        for agent_id in agents:  # their time stays counted: settled, for a restart
            timeline = self.agents.pop(agent_id)
            gone = timeline_contributions(timeline, self._max_agent_age_us, self._agent_base, self.queue)
            if gone:
                self._settle(gone, now_us)
        self._waiting.drop_ended(now_us)
        return Expired(calls, agents)

    def release_quiet(self, before_us: int) -> list[Visit]:
        """Hand over the hot visits with no fact since ``before_us``: the caller keeps them cold."""
        quiet = [visit for visit in self.visits.values() if visit.last_us < before_us]
        for visit in quiet:
            del self.visits[visit.call_id]
        return quiet

    def expire_cold(self, visit: Visit, now_us: int) -> bool:
        """A visit expired from the cold store: settle it, unless it is hot again (then ``False``)."""
        if visit.call_id in self.visits:
            return False  # the cold copy was out of date; the hot visit replaced its contributions
        self._add_to_settled(visit, now_us)
        return True

    def _add_to_settled(self, visit: Visit, now_us: int) -> None:
        self._settle(
            rules.contributions(
                visit, self.settings, self._bounds_us, self._max_call_age_us, self._reasons_base
            ),
            now_us,
        )

    def _settle(self, contributions: list[rules.Contribution], now_us: int) -> None:
        today = day_start_us(local_date(now_us, self.settings.zone), self.settings.zone)
        self.settled.add(contributions, today)
        self.settled_changed = True

    def restore_settled(self, settled: Settled) -> None:
        """After a restart: count what expired visits and agents' trimmed changes contributed
        (before any snapshot). Sums stored before agents were counted are shorter: padded."""
        self.settled = settled.padded(len(self.settled.total))
        self.sums.restore(self.settled)
