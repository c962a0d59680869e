"""``/api/v1/agents``: the latest agent list as JSON, for integrations and pages.

Every agent the worker owns, whatever ``[agents] export`` keeps off ``/metrics``. Times are
RFC 3339 UTC, durations seconds, ratios 0..1; a value that is undefined (an average of no
calls, an occupancy of no staffed time) is ``null``. Usage::

    body = agents_document(agents, at_us)     # bytes: {"at": ..., "agents": [...]}
"""

from __future__ import annotations

from typing import Any

import orjson

from metrics.snapshot import AgentSnapshot, AgentWindow
from metrics.timeutil import format_us


def agents_document(agents: tuple[AgentSnapshot, ...], at_us: int | None) -> bytes:
    """The whole document for agents read at ``at_us`` (``None``: not read yet, no agents)."""
    at = None if at_us is None else format_us(at_us)
    return orjson.dumps({"at": at, "agents": [_agent(a) for a in agents]})


def _agent(agent: AgentSnapshot) -> dict[str, Any]:
    return {
        "agent": agent.agent,
        "state": agent.state,
        "reason": agent.reason,
        "since": None if agent.since_us is None else format_us(agent.since_us),
        "queues": list(agent.queues),
        "windows": {name: _window(values) for name, values in agent.windows.items()},
    }


def _window(values: AgentWindow) -> dict[str, Any]:
    return {
        "state_seconds": values.state_seconds,
        "handled_calls": values.handled,
        "handle_time_seconds": values.handle_time_seconds,
        "transferred_calls": values.transferred,
        "missed_calls": values.missed,
        "occupancy_ratio": values.occupancy_ratio,
        "csat_ratio": values.csat_ratio,
        "nps_ratio": values.nps_ratio,
        "customer_effort_score": values.customer_effort_score,
    }
