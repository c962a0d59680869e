"""Hypothesis strategies: random but plausible call-center histories."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import strategies as st

from metrics.contract.events import AGENT_STATES, FLOW_OUT_REASONS, SURVEY_SCORES, Event
from metrics.settings import CallerSettings, Limits, QueueSettings, Settings

US = 1_000_000
QUEUES = ("sales", "support")
AGENTS = ("a1", "a2", "a3")
REASONS = (None, "Break", "Lunch")
# (zone, a local 23:00 before a DST change or an ordinary midnight), as epoch seconds
BASES = (
    ("UTC", 1_772_406_000),  # 2026-03-01T23:00Z
    ("America/New_York", 1_772_942_400),  # 2026-03-07T23:00-05:00, clocks spring forward at 02:00
    ("Asia/Jerusalem", 1_774_558_800),  # 2026-03-26T23:00+02:00, clocks spring forward on the 27th
)
SPAN_S = 3 * 3600
SECRET = b"property tests"  # repeat calls on, in every engine these histories go through
REPEAT_WINDOW_S = 1800  # shorter than the span: repeats within and beyond it
CALLERS = (None, "+15550001", "+15550002", " +15550001", "anonymous")  # the third: the first, padded


@dataclass
class History:
    events: list[Event]
    settings: Settings
    base_us: int


def settings_for(zone: str) -> Settings:
    defaults = QueueSettings(timezone=zone, windows=("1m", "5m", "1h"))
    # agent events out of order by up to the whole span: the placing bound refuses none of them
    # here (it has known-answer tests of its own)
    limits = Limits(max_call_age_seconds=1800, max_agent_age_seconds=3600, max_agent_disorder_seconds=SPAN_S)
    callers = CallerSettings(repeat_call_window_seconds=REPEAT_WINDOW_S)
    return Settings(defaults=defaults, limits=limits, callers=callers)


_ids = itertools.count()


def _event(kind: str, at: int, **fields: object) -> Event:
    return Event(f"e{next(_ids)}", kind, at, "test", **fields)  # type: ignore[arg-type]


# A call's events span less than max_call_age (1800 s) here; longer calls are split by
# design and covered by known-answer tests.
_waits = st.one_of(st.sampled_from([0, 4, 5, 6, 19, 20, 21]), st.integers(0, 600))
_micro = st.one_of(st.just(0), st.integers(0, US - 1))


@st.composite
def call_events(draw: st.DrawFn, base_us: int) -> list[Event]:
    call = f"c{next(_ids)}"
    queue = draw(st.sampled_from(QUEUES))
    edges = [3600, 3600 - 60, 3600 - 300, 3600 - REPEAT_WINDOW_S]
    offset = draw(st.one_of(st.integers(0, SPAN_S), st.sampled_from(edges)))
    queued = base_us + offset * US + draw(_micro)  # 3600 s after base is local midnight
    if draw(st.integers(0, 19)) == 0:
        return [_event("call.blocked", queued, call_id=call, queue=queue)]
    events = []
    caller = draw(st.sampled_from(CALLERS))
    if draw(st.integers(0, 9)):  # now and then the call.queued event is lost
        events.append(_event("call.queued", queued, call_id=call, queue=queue, caller=caller))
    if caller is not None and draw(st.integers(0, 4)) == 0:  # queued again: here earlier, or elsewhere
        again = draw(st.sampled_from(QUEUES))
        at = queued - US if again == queue else queued + draw(st.sampled_from([1, 60 * US]))
        events.append(_event("call.queued", at, call_id=call, queue=again, caller=caller))
    outcome = draw(st.sampled_from(["answered", "abandoned", "flowed_out", None]))
    out_at = queued + draw(_waits) * US + draw(st.sampled_from([0, 0, 1, US // 2]))
    if outcome == "abandoned":
        events.append(_event("call.abandoned", out_at, call_id=call, queue=queue))
    elif outcome == "flowed_out":  # now and then a second flow-out: the earliest one's reason counts
        for at in [out_at, *draw(st.lists(st.sampled_from([out_at, out_at + US]), max_size=1))]:
            reason = draw(st.sampled_from(sorted(FLOW_OUT_REASONS)))
            events.append(_event("call.flowed_out", at, call_id=call, queue=queue, reason=reason))
    elif outcome == "answered":
        events += _handled(draw, call, queue, out_at)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):  # surveys, before or after the answer
        events.append(_survey(draw, call, out_at + draw(st.integers(-60, 600)) * US))
    return events


def _survey(draw: st.DrawFn, call: str, at: int) -> Event:
    scores = {name: draw(st.none() | st.integers(low, high)) for name, (low, high) in SURVEY_SCORES.items()}
    if all(value is None for value in scores.values()):
        scores["csat"] = draw(st.integers(1, 5))
    queue = draw(st.none() | st.none() | st.sampled_from(QUEUES))  # mostly: the answering queue's
    return _event("survey.completed", at, call_id=call, queue=queue, **scores)


def _handled(draw: st.DrawFn, call: str, queue: str, answered: int) -> list[Event]:
    agent = draw(st.sampled_from(AGENTS))
    events = [_event("call.answered", answered, call_id=call, queue=queue, agent_id=agent)]
    for rang in draw(st.lists(st.sampled_from(AGENTS), max_size=2)):  # rang first, not answered
        events.append(_event("call.agent_no_answer", answered - US, call_id=call, queue=queue, agent_id=rang))
    ended = answered + draw(st.integers(0, 600)) * US
    if draw(st.integers(0, 4)) == 0:
        events.append(_event("call.transferred", ended, call_id=call, agent_id=agent, to_queue="support"))
    if draw(st.booleans()):
        events.append(_event("call.held", answered + 1, call_id=call, agent_id=agent))
    if draw(st.integers(0, 5)) == 0:
        return events  # still talking
    wrapup = draw(st.booleans())
    events.append(_event("call.ended", ended, call_id=call, agent_id=agent, wrapup=wrapup))
    if wrapup and draw(st.integers(0, 4)):
        events.append(
            _event("call.wrapup_ended", ended + draw(st.integers(0, 120)) * US, call_id=call, agent_id=agent)
        )
    return events


@st.composite
def agent_events(draw: st.DrawFn, base_us: int) -> list[Event]:
    agent = draw(st.sampled_from(AGENTS))
    at = base_us + draw(st.integers(0, SPAN_S)) * US
    queues = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(QUEUES), unique=True).map(lambda q: tuple(sorted(q))))
    )
    state = draw(st.sampled_from(AGENT_STATES))
    reason = draw(st.sampled_from(REASONS)) if state == "away" else None
    return [_event("agent.state", at, agent_id=agent, state=state, queues=queues, reason=reason)]


@st.composite
def histories(draw: st.DrawFn) -> History:
    zone, base_s = draw(st.sampled_from(BASES))
    base = base_s * US
    calls = draw(st.lists(call_events(base), max_size=25))
    agents = draw(st.lists(agent_events(base), max_size=12))
    events = [e for group in calls + agents for e in group]
    doubled = draw(st.lists(st.sampled_from(events), max_size=8)) if events else []
    shuffled = draw(st.permutations(events + doubled))
    return History(list(shuffled), settings_for(zone), base)


@st.composite
def instants(draw: st.DrawFn, history: History) -> list[int]:
    """Random instants and the exact edges of windows and days."""
    times = [e.time_us for e in history.events]
    edges = [t + w for t in times for w in (0, 60 * US, 300 * US, 3600 * US)]
    pool = st.one_of(
        st.integers(history.base_us, history.base_us + (SPAN_S + 3600) * US),
        st.sampled_from(edges or [history.base_us]),
        st.sampled_from([history.base_us + 3600 * US, history.base_us + 3600 * US - 1]),
    )
    return sorted(draw(st.lists(pool, min_size=1, max_size=4)))
