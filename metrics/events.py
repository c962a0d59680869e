"""The decoded form of one contract event (see docs/events.md).

Decoders in :mod:`stream` build these; the engine in :mod:`metrics` only reads them.
Times are integer microseconds since the Unix epoch, so window arithmetic is exact.
"""

from __future__ import annotations

from typing import NamedTuple

CALL_TYPES = frozenset(
    {
        "call.queued",
        "call.answered",
        "call.abandoned",
        "call.flowed_out",
        "call.held",
        "call.resumed",
        "call.transferred",
        "call.ended",
        "call.wrapup_ended",
        "call.blocked",
    }
)
AGENT_TYPES = frozenset({"agent.state"})
EVENT_TYPES = CALL_TYPES | AGENT_TYPES
AGENT_STATES = ("offline", "available", "on_call", "wrap_up", "away")
FLOW_OUT_REASONS = frozenset({"timeout", "exit_key", "empty", "full", "transfer", "other"})


class Event(NamedTuple):
    """One valid event. Fields a type does not carry are ``None``.

    A named tuple rather than a frozen dataclass: it is built once per event, and a
    frozen dataclass takes about four times as long to build.

    >>> Event("e1", "call.queued", 917_849_362_000_000, "pbx", call_id="c1", queue="sales")
    ... # doctest: +ELLIPSIS
    Event(id='e1', type='call.queued', ...)
    """

    id: str
    type: str
    time_us: int
    source: str
    call_id: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    reason: str | None = None
    wrapup: bool = False
    to_queue: str | None = None
    state: str | None = None
    queues: tuple[str, ...] | None = None


class Rejection(ValueError):
    """An event that is not valid. ``reason`` is a short label value, ``detail`` is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
