"""Every agent metric of the engine equals an independent recount (tests/agent_oracle.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.settings import AgentSettings
from metrics.snapshot import Snapshot
from tests.agent_oracle import expected_agents, expected_queue_agents
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
