"""A batch recomputation of every metric, written straight from docs/metrics.md.

It shares no code with the engine: it looks at the whole (deduplicated) event set at once
and recounts everything for one instant. Slow and simple on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from metrics.contract.events import AGENT_STATES, FLOW_OUT_REASONS, Event
from metrics.settings import QueueSettings, Settings

US = 1_000_000
OUTCOME_TYPES = {"call.answered": 0, "call.abandoned": 1, "call.flowed_out": 2}


@dataclass
class Stay:
    call_id: str
    queue: str
    queued: int | None
    outcome: str | None
    out_at: int | None
    reason: str | None = None  # of a flow-out


def expected(events: list[Event], settings: Settings, now: int) -> dict[str, dict[str, object]]:
    """``{queue: {metric name: value}}`` with windowed metrics as ``"name/window"`` keys."""
    unique = {e.id: e for e in events if e.time_us <= now}.values()
    calls = [e for e in unique if e.type != "agent.state"]
    agents = [e for e in unique if e.type == "agent.state"]
    stays = _stays(calls)
    handlings = _handlings(calls)
    surveys = _surveys(calls)
    identified = _identified(calls, settings.callers.repeat_window_us)
    queues = {s.queue for s in stays} | {q for e in agents for q in e.queues or ()}
    queues |= {e.queue for e in calls if e.type == "call.blocked" and e.queue}
    queues |= {queue for queue, _ in surveys} | {queue for queue, _ in identified}
    result = {}
    for queue in queues:
        qs = settings.for_queue(queue)
        mine = [s for s in stays if s.queue == queue and s.queued is not None]
        done = [h for h in handlings if h[0] == queue]
        blocked = [e.time_us for e in _first_per_key(calls, "call.blocked") if e.queue == queue]
        result[queue] = _queue_metrics(mine, done, blocked, qs, settings, now)
        result[queue].update(_survey_counts([at_scores for q, at_scores in surveys if q == queue], qs, now))
        result[queue].update(_repeat_counts([t for q, t in identified if q == queue], qs, now))
        result[queue].update(_agents(agents, queue, settings.limits.max_agent_age_us, now))
    return result


def _first_per_key(calls: list[Event], kind: str) -> list[Event]:
    best: dict[tuple[str, str | None], Event] = {}
    for e in calls:
        if e.type == kind:
            key = (e.call_id or "", e.queue)
            if key not in best or (e.time_us, e.id) < (best[key].time_us, best[key].id):
                best[key] = e
    return list(best.values())


def _stays(calls: list[Event]) -> list[Stay]:
    stays: dict[tuple[str, str], Stay] = {}
    for e in sorted(calls, key=lambda e: (e.time_us, OUTCOME_TYPES.get(e.type, 9), e.id)):
        if e.queue is None or e.type in (
            "call.blocked",
            "call.agent_no_answer",
            "survey.completed",
        ):  # a missed offer is the agent's
            continue
        stay = stays.setdefault((e.call_id or "", e.queue), Stay(e.call_id or "", e.queue, None, None, None))
        if e.type == "call.queued" and stay.queued is None:
            stay.queued = e.time_us
        if e.type in OUTCOME_TYPES and stay.outcome is None:
            stay.outcome, stay.out_at, stay.reason = e.type.split(".")[1], e.time_us, e.reason
    return list(stays.values())


def _handlings(calls: list[Event]) -> list[tuple[str, int, int]]:
    """(queue, done time, handle time) for every completed handling."""

    def first(kind: str, call: str, agent: str) -> Event | None:
        found = [e for e in calls if e.type == kind and e.call_id == call and e.agent_id == agent]
        return min(found, key=lambda e: (e.time_us, e.id), default=None)

    found = []
    pairs = {(e.call_id or "", e.agent_id or "") for e in calls if e.type == "call.answered"}
    for call, agent in pairs:
        answered, ended = first("call.answered", call, agent), first("call.ended", call, agent)
        if answered is None or ended is None or answered.queue is None:
            continue
        finish = ended.time_us
        if ended.wrapup:
            wrapped = first("call.wrapup_ended", call, agent)
            if wrapped is None:
                continue
            finish = max(finish, wrapped.time_us)
        found.append((answered.queue, finish, max(0, finish - answered.time_us)))
    return found


Scores = tuple[int, int | None, int | None, int | None]  # time, csat, nps, ces


def _surveys(calls: list[Event]) -> list[tuple[str, Scores]]:
    """(queue, survey) of each call's earliest survey: in its own queue, else in the queue the
    call was last answered in at or before the survey (each agent's first answer; the latest)."""
    found = []
    for call in {e.call_id for e in calls if e.type == "survey.completed"}:
        mine = [e for e in calls if e.call_id == call]
        survey = min((e for e in mine if e.type == "survey.completed"), key=lambda e: (e.time_us, e.id))
        firsts: dict[str | None, Event] = {}
        for e in sorted((e for e in mine if e.type == "call.answered"), key=lambda e: (e.time_us, e.id)):
            firsts.setdefault(e.agent_id, e)
        before = [e for e in firsts.values() if e.time_us <= survey.time_us]
        last = max(before, key=lambda e: (e.time_us, e.id), default=None)
        queue = survey.queue or (last.queue if last else None)
        if queue is not None:
            found.append((queue, (survey.time_us, survey.csat, survey.nps, survey.ces)))
    return found


WITHHELD = {"", "anonymous", "unknown", "unavailable", "restricted", "private", "withheld"}


def _identified(calls: list[Event], window: int) -> list[tuple[str, tuple[int, bool]]]:
    """(queue, (queued time, repeat)) of each call's stay in a queue that named a caller.

    Its time: the earliest call.queued naming a caller; a repeat if a call.queued of another
    call by the same caller (stripped) is at most ``window`` earlier.
    """
    marks = [
        (e.time_us, e.call_id, e.queue, e.caller.strip())
        for e in calls
        if e.type == "call.queued" and e.caller is not None and e.caller.strip().casefold() not in WITHHELD
    ]
    found = []
    for call, queue in {(call, queue) for _, call, queue, _ in marks}:
        at, _, _, caller = min(m for m in marks if m[1] == call and m[2] == queue)
        repeat = any(c == caller and other != call and at - window <= t < at for t, other, _, c in marks)
        found.append((queue or "", (at, repeat)))
    return found


def _repeat_counts(identified: list[tuple[int, bool]], qs: QueueSettings, now: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, (lo, hi) in _windows(qs, now).items():
        inside = [repeat for at, repeat in identified if lo <= at <= hi]
        out[f"repeats/{name}"] = {"identified": len(inside), "repeat": sum(inside)}
    return out


def _survey_counts(surveys: list[Scores], qs: QueueSettings, now: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, (lo, hi) in _windows(qs, now).items():
        out[f"surveys/{name}"] = survey_sums([s for s in surveys if lo <= s[0] <= hi])
    return out


def survey_sums(surveys: list[Scores]) -> dict[str, int]:
    """Answers per score, and the parts of the ratios, of the surveys given (queues' and agents')."""
    csat = [s[1] for s in surveys if s[1] is not None]
    nps = [s[2] for s in surveys if s[2] is not None]
    ces = [s[3] for s in surveys if s[3] is not None]
    return {
        "csat": len(csat),
        "csat_4_5": sum(v >= 4 for v in csat),
        "nps": len(nps),
        "promoters": sum(v >= 9 for v in nps),
        "detractors": sum(v <= 6 for v in nps),
        "ces": len(ces),
        "ces_sum": sum(ces),
    }


def _windows(qs: QueueSettings, now: int) -> dict[str, tuple[int, int]]:
    """Window name -> inclusive [first, last] microsecond."""
    spans = {}
    for name in qs.windows:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[name[-1]]
        spans[name] = (now - int(name[:-1]) * unit * US + 1, now)
    spans["today"] = (_first_second_of_day(now // US, ZoneInfo(qs.timezone)) * US, now)
    spans["total"] = (-(2**62), now)
    return spans


def _first_second_of_day(second: int, zone: ZoneInfo) -> int:
    """Binary search for the first epoch second whose local date is that of ``second``."""
    today = datetime.fromtimestamp(second, zone).date()
    lo, hi = second - 2 * 86400, second
    while lo < hi:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).date() < today:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _sl_event(s: Stay, qs: QueueSettings) -> tuple[int, bool] | None:
    """The contract's service-level event rule, read literally."""
    assert s.queued is not None
    t, short = qs.threshold_us, qs.short_abandon_us
    wait = None if s.out_at is None else s.out_at - s.queued
    if s.outcome == "answered" and wait is not None and wait <= t:
        return (s.out_at or 0, True)
    if s.outcome == "abandoned" and wait is not None and short <= wait <= t:
        return (s.out_at or 0, False)
    if s.outcome == "abandoned" and wait is not None and wait < short:
        return None
    if s.outcome == "flowed_out" and wait is not None and wait <= t:
        return None
    return (s.queued + t, False)


def _queue_metrics(
    stays: list[Stay],
    done: list[tuple[str, int, int]],
    blocked: list[int],
    qs: QueueSettings,
    settings: Settings,
    now: int,
) -> dict[str, object]:
    out: dict[str, object] = {}
    max_age = settings.limits.max_call_age_us
    for name, (lo, hi) in _windows(qs, now).items():

        def inside(at: int | None, lo: int = lo, hi: int = hi) -> bool:
            return at is not None and lo <= at <= hi

        def waited(s: Stay) -> int:
            return (s.out_at or 0) - (s.queued or 0)

        answered = [s for s in stays if s.outcome == "answered" and inside(s.out_at)]
        abandoned = [s for s in stays if s.outcome == "abandoned" and inside(s.out_at)]
        long_ab = [s for s in abandoned if waited(s) >= qs.short_abandon_us]
        flowed = [s for s in stays if s.outcome == "flowed_out" and inside(s.out_at)]
        sl = [e for e in (_sl_event(s, qs) for s in stays) if e is not None and inside(e[0])]
        handled = [h for h in done if inside(h[1])]
        expired = [
            s
            for s in stays
            if inside(s.queued + max_age)
            and not (  # type: ignore[operator]
                s.out_at is not None and s.out_at <= s.queued + max_age
            )
        ]  # type: ignore[operator]
        counts = {
            "offered": sum(inside(s.queued) for s in stays),
            "answered": len(answered),
            "abandoned": len(long_ab),
            "short_abandoned": len(abandoned) - len(long_ab),
            "flowed_out": len(flowed),
            "service_level_met": sum(met for _, met in sl),
            "service_level_counted": len(sl),
            "handled": len(handled),
            "blocked": sum(inside(b) for b in blocked),
            "expired": len(expired),
            "wait_us": sum(waited(s) for s in answered),
            "handle_us": sum(h[2] for h in handled),
        }
        out.update({f"{k}/{name}": v for k, v in counts.items()})
        out[f"flowed_out_by_reason/{name}"] = {
            reason: sum(s.reason == reason for s in flowed) for reason in sorted(FLOW_OUT_REASONS)
        }
    waits = [
        now - s.queued
        for s in stays
        if s.queued is not None
        and s.queued <= now
        and now < min(s.out_at if s.out_at is not None else 2**62, s.queued + max_age)
    ]
    out["waiting"] = len(waits)
    out["longest_wait_us"] = max(waits, default=0)
    return out


def _agents(agents: list[Event], queue: str, max_age: int, now: int) -> dict[str, object]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent in {e.agent_id for e in agents}:
        mine = sorted((e for e in agents if e.agent_id == agent), key=lambda e: (e.time_us, e.id))
        if not mine or now - mine[-1].time_us > max_age:
            continue
        # a silence longer than max_age starts afresh: only changes since then can list queues
        since = max(
            (i for i in range(1, len(mine)) if mine[i].time_us - mine[i - 1].time_us > max_age), default=0
        )
        listed = [e.queues for e in mine[since:] if e.queues is not None]
        if queue in (listed[-1] if listed else ()):
            counts[mine[-1].state or ""] += 1
    return {f"agents/{state}": n for state, n in counts.items()}
