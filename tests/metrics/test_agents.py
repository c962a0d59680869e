"""Agent histories know their events' ids, also when rebuilt from their changelog."""

from __future__ import annotations

import orjson

from metrics.agents import AgentHistory
from metrics.timeutil import parse_rfc3339_us
from tests.helpers import ev


def _through_changelog(history: AgentHistory) -> AgentHistory:
    return AgentHistory.from_json(orjson.loads(orjson.dumps(history.to_json())))


def test_a_resent_event_is_a_duplicate_before_and_after_a_restart() -> None:
    first = ev("agent.state", "2026-01-05T10:00:00Z", agent_id="a1", state="available", queues=("sales",))
    later = ev("agent.state", "2026-01-05T10:05:00Z", agent_id="a1", state="on_call")
    history = AgentHistory("a1")
    assert history.add(first) and history.add(later)
    assert not history.add(first)
    rebuilt = _through_changelog(history)
    assert not rebuilt.add(first) and not rebuilt.add(later)
    assert rebuilt.changes == history.changes


def test_an_event_let_go_counts_again_if_it_comes_back() -> None:
    old = ev("agent.state", "2026-01-05T09:00:00Z", agent_id="a1", state="available", queues=("sales",))
    newer = ev("agent.state", "2026-01-05T09:30:00Z", agent_id="a1", state="away", queues=("sales",))
    history = AgentHistory("a1")
    history.add(old)
    history.add(newer)
    history.expire_before(parse_rfc3339_us("2026-01-05T10:00:00Z"))
    assert [change[1] for change in history.changes] == [newer.id]
    assert history.add(old)
