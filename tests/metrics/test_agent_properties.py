"""Every agent metric of the engine equals an independent recount (tests/agent_oracle.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.settings import AgentSettings, Limits
from metrics.snapshot import Snapshot
from metrics.timeutil import US
from stream.exporter.text import render
from tests.agent_oracle import expected_agents, expected_queue_agents
from tests.helpers import SURVEY_SUMS
from tests.strategies import History, histories, instants

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flat(rows: dict[str, object]) -> dict[str, object]:
    """Nested seconds by state as one key each, in whole microseconds (exact on both sides)."""
    out: dict[str, object] = {}
    for key, value in rows.items():
        if isinstance(value, dict) and key.startswith("seconds/"):
            out.update({f"{key}/{state}": round(v * 1_000_000) for state, v in value.items()})
        else:
            out[key] = value
    return out


def observed_agents(snapshot: Snapshot) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    for a in snapshot.agents:
        row: dict[str, object] = {"state": a.state, "reason": a.reason, "since": a.since_us}
        for name, w in a.windows.items():
            row[f"seconds/{name}"] = w.state_seconds
            row[f"handled/{name}"], row[f"handle_us/{name}"] = w.handled, w.handle_us
            row[f"transferred/{name}"], row[f"missed/{name}"] = w.transferred, w.missed
            row[f"surveys/{name}"] = dict(zip(SURVEY_SUMS, w.surveys, strict=True))
        result[a.agent] = row
    return result


@PROPERTY
@given(st.data())
def test_agent_metrics_equal_an_independent_recount(data: st.DataObject) -> None:
    history: History = data.draw(histories())
    windows = data.draw(st.sampled_from([("today",), ("today", "5m"), ("1h",)]))
    zone = data.draw(st.sampled_from(["UTC", "Asia/Jerusalem"]))
    agents = AgentSettings(timezone=zone, windows=windows, reasons=("Break",))
    chosen = replace(history.settings, agents=agents)
    engine = Engine(chosen)
    for event in history.events:
        engine.apply(event)
    for now in data.draw(instants(history)):
        snapshot = engine.snapshot(now)
        got, want = observed_agents(snapshot), expected_agents(history.events, chosen, now)
        assert {a: flat(row) for a, row in got.items()} == {a: flat(row) for a, row in want.items()}
        for queue in snapshot.queues:
            row = {f"seconds/{w}": s for w, s in queue.agent_seconds.items()}
            expected = expected_queue_agents(history.events, chosen, queue.queue, now)
            assert flat({**row, "away": queue.away_by_reason}) == flat(expected)


@PROPERTY
@given(st.data())
def test_where_batches_end_changes_nothing(data: st.DataObject) -> None:
    """A worker ends batches wherever its fetches do, and trims agents' histories then; a
    replay, once per 10,000 events. Both must refuse and count the same events, with a
    placing bound (15 minutes) short enough here for events to fall outside it. Snapshots are
    taken where a worker takes them: not before the newest event (earlier instants are
    answered only as far back as histories are kept)."""
    history: History = data.draw(histories())
    limits = Limits(max_call_age_seconds=1800, max_agent_age_seconds=3600, max_agent_disorder_seconds=600)
    chosen = replace(history.settings, limits=limits)
    ends = data.draw(st.sets(st.integers(0, max(0, len(history.events) - 1))))
    whole, split = Engine(chosen), Engine(chosen)
    for index, event in enumerate(history.events):
        whole.apply(event)
        split.apply(event)
        if index in ends:
            split.flush()
    newest = max((e.time_us for e in history.events), default=history.base_us)
    for now in data.draw(st.lists(st.integers(newest, newest + 3600 * US), min_size=1, max_size=3)):
        assert render(split.snapshot(now)) == render(whole.snapshot(now))  # the worker's instants
