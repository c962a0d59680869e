"""A batch recomputation of every agent metric, written straight from docs/metrics.md ("Agents").

Like :mod:`tests.oracle` it shares no code with the engine: it looks at the whole
(deduplicated) event set and integrates each agent's states over each window directly.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from metrics.contract.events import AGENT_STATES, Event
from metrics.settings import Settings
from tests.oracle import Scores, survey_sums

US = 1_000_000
Segment = tuple[int, int, str, tuple[str, ...]]  # [start, end), state, queues served


def day_start(now: int, zone: str) -> int:
    local = datetime.fromtimestamp(now // US, ZoneInfo(zone)).date()
    return int(datetime.combine(local, time(0), tzinfo=ZoneInfo(zone)).timestamp()) * US


def windows(names: list[str], zone: str, now: int) -> dict[str, int]:
    """Window name -> its lower bound (exclusive for rolling windows, inclusive for today)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    lower = {n: now - int(n[:-1]) * units[n[-1]] * US for n in names if n != "today"}
    return {**lower, "today": day_start(now, zone)}


def changes_of(events: list[Event], agent: str, now: int) -> list[Event]:
    return sorted(
        (e for e in events if e.agent_id == agent and e.time_us <= now), key=lambda e: (e.time_us, e.id)
    )


def segments(changes: list[Event], max_age: int, now: int) -> list[Segment]:
    found = []
    for i, change in enumerate(changes):
        end = change.time_us + max_age
        if i + 1 < len(changes):
            end = min(end, changes[i + 1].time_us)
        found.append((change.time_us, min(end, now), change.state or "", served(changes, i, max_age)))
    return found


def served(changes: list[Event], i: int, max_age: int) -> tuple[str, ...]:
    """The latest list at or before change i, back to the last silence over max_age."""
    while True:
        if changes[i].queues is not None:
            return changes[i].queues or ()
        if i == 0 or changes[i].time_us - changes[i - 1].time_us > max_age:
            return ()
        i -= 1


def seconds(segs: list[Segment], lower: int, now: int, queue: str | None = None) -> dict[str, float]:
    totals = dict.fromkeys(AGENT_STATES, 0)
    for start, end, state, queues in segs:
        if queue is None or queue in queues:
            totals[state] += max(0, min(end, now) - max(start, lower))
    return {state: us / US for state, us in totals.items()}


def first(calls: list[Event], kind: str, call: str, agent: str) -> Event | None:
    found = [e for e in calls if e.type == kind and e.call_id == call and e.agent_id == agent]
    return min(found, key=lambda e: (e.time_us, e.id), default=None)


def call_facts(calls: list[Event], agent: str) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(done, handle) of each handling completed, transfer times, missed-offer times."""
    handled, transfers = [], []
    for call in sorted({e.call_id or "" for e in calls if e.agent_id == agent}):
        answered, ended = first(calls, "call.answered", call, agent), first(calls, "call.ended", call, agent)
        transfer = first(calls, "call.transferred", call, agent)
        if transfer is not None:
            transfers.append(transfer.time_us)
        if answered is None or ended is None:
            continue
        done = ended.time_us
        if ended.wrapup:
            wrapped = first(calls, "call.wrapup_ended", call, agent)
            if wrapped is None:
                continue
            done = max(done, wrapped.time_us)
        handled.append((done, max(0, done - answered.time_us)))
    missed = [e.time_us for e in calls if e.type == "call.agent_no_answer" and e.agent_id == agent]
    return handled, transfers, missed


def expected_agents(events: list[Event], settings: Settings, now: int) -> dict[str, dict[str, object]]:
    """``{agent: {name: value}}`` for every agent any event names."""
    unique = list({e.id: e for e in events}.values())
    states = [e for e in unique if e.type == "agent.state"]
    calls = [e for e in unique if e.type != "agent.state" and e.time_us <= now]
    max_age, agents = settings.limits.max_agent_age_us, settings.agents
    result, surveys = {}, surveys_by_agent(calls)
    for agent in sorted({e.agent_id or "" for e in unique if e.agent_id}):
        changes = changes_of(states, agent, now)
        row = _now(changes, max_age, now, agents.reasons)
        segs = segments(changes, max_age, now)
        handled, transfers, missed = call_facts(calls, agent)
        for name, lower in windows(list(agents.windows), agents.timezone, now).items():
            if name not in agents.windows:
                continue
            row[f"seconds/{name}"] = seconds(segs, lower, now)
            done = [h for d, h in handled if inside(d, lower, name, now)]
            row[f"handled/{name}"], row[f"handle_us/{name}"] = len(done), sum(done)
            row[f"transferred/{name}"] = sum(1 for t in transfers if inside(t, lower, name, now))
            row[f"missed/{name}"] = sum(1 for t in missed if inside(t, lower, name, now))
            row[f"surveys/{name}"] = survey_sums(
                [s for a, s in surveys if a == agent and inside(s[0], lower, name, now)]
            )
        result[agent] = row
    return result


def surveys_by_agent(calls: list[Event]) -> list[tuple[str, Scores]]:
    """(agent, survey) of each call's earliest survey: for its agent, else the agent of the
    call's latest answer at or before it (each agent's first answer)."""
    found = []
    for call in {e.call_id for e in calls if e.type == "survey.completed"}:
        mine = [e for e in calls if e.call_id == call]
        survey = min((e for e in mine if e.type == "survey.completed"), key=lambda e: (e.time_us, e.id))
        answers = [first(mine, "call.answered", call, a) for a in {e.agent_id for e in mine if e.agent_id}]
        before = [e for e in answers if e is not None and e.time_us <= survey.time_us]
        last = max(before, key=lambda e: (e.time_us, e.id), default=None)
        agent = survey.agent_id or (last.agent_id if last else None)
        if agent is not None:
            found.append((agent, (survey.time_us, survey.csat, survey.nps, survey.ces)))
    return found


def inside(at: int, lower: int, window: str, now: int) -> bool:
    return lower <= at <= now if window == "today" else lower < at <= now


def _now(changes: list[Event], max_age: int, now: int, reasons: tuple[str, ...]) -> dict[str, object]:
    if not changes or now - changes[-1].time_us > max_age:
        return {"state": None, "reason": None, "since": None}
    last, i = changes[-1], len(changes) - 1
    while (
        i > 0
        and (changes[i - 1].state, changes[i - 1].reason) == (last.state, last.reason)
        and (changes[i].time_us - changes[i - 1].time_us <= max_age)
    ):
        i -= 1
    reason = None
    if last.state == "away":
        reason = "none" if last.reason is None else last.reason if last.reason in reasons else "other"
    return {"state": last.state, "reason": reason, "since": changes[i].time_us}


def expected_queue_agents(events: list[Event], settings: Settings, queue: str, now: int) -> dict[str, object]:
    """The agent seconds by state per window of one queue, and its agents away by reason."""
    unique = list({e.id: e for e in events}.values())
    states = [e for e in unique if e.type == "agent.state"]
    max_age, qs = settings.limits.max_agent_age_us, settings.for_queue(queue)
    row: dict[str, object] = {}
    per_agent = {a: changes_of(states, a, now) for a in {e.agent_id or "" for e in states}}
    for name, lower in windows(list(qs.windows), qs.timezone, now).items():
        totals = dict.fromkeys(AGENT_STATES, 0)
        for changes in per_agent.values():
            for state, value in seconds(segments(changes, max_age, now), lower, now, queue).items():
                totals[state] += round(value * US)
        row[f"seconds/{name}"] = {state: us / US for state, us in totals.items()}
    away: dict[str, int] = {}
    for changes in per_agent.values():
        current = _now(changes, max_age, now, settings.agents.reasons)
        if current["state"] == "away" and queue in served(changes, len(changes) - 1, max_age):
            label = str(current["reason"])
            away[label] = away.get(label, 0) + 1
    row["away"] = away
    return row
