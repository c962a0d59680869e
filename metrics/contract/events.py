"""The event contract (docs/events.md): types, fields, limits, and the decoded form of an event.

:mod:`metrics.contract.decode` checks raw events against it and builds :class:`Event`;
:mod:`metrics.contract.schemas` generates the published JSON Schemas from it. Times are
integer microseconds since the Unix epoch, so window arithmetic is exact.
"""

from __future__ import annotations

from typing import Final, NamedTuple

CALL_TYPES: Final = frozenset(
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
        "call.agent_no_answer",
        "survey.completed",  # on the calls topic, keyed by its call
    }
)
AGENT_TYPES: Final = frozenset({"agent.state"})
EVENT_TYPES: Final = CALL_TYPES | AGENT_TYPES
AGENT_STATES: Final = ("offline", "available", "on_call", "wrap_up", "away")
FLOW_OUT_REASONS: Final = frozenset({"timeout", "exit_key", "empty", "full", "transfer", "callback", "other"})
# survey.completed: each score's inclusive range; one or more of them in each survey
SURVEY_SCORES: Final = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


MAX_EVENT_BYTES: Final = 64 * 1024
MAX_ID_CHARS: Final = 256
MAX_QUEUE_CHARS: Final = 128
# An agent's state goes to every queue it serves: the list is bounded so that one event
# cannot make thousands of messages.
MAX_AGENT_QUEUES: Final = 100
ENVELOPE_REQUIRED: Final = ("specversion", "id", "source", "type", "time", "data")
ENVELOPE_OPTIONAL: Final = frozenset({"datacontenttype", "dataschema", "subject"})

# type -> (required data fields, optional data fields)
DATA_FIELDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "call.queued": (("call_id", "queue"), ("priority", "caller")),
    "call.answered": (("call_id", "queue", "agent_id"), ()),
    "call.abandoned": (("call_id", "queue"), ()),
    "call.flowed_out": (("call_id", "queue", "reason"), ()),
    "call.held": (("call_id", "agent_id"), ()),
    "call.resumed": (("call_id", "agent_id"), ()),
    "call.transferred": (("call_id", "agent_id"), ("to_queue",)),
    "call.ended": (("call_id", "agent_id"), ("wrapup",)),
    "call.wrapup_ended": (("call_id", "agent_id"), ()),
    "call.blocked": (("call_id", "queue"), ()),
    "call.agent_no_answer": (("call_id", "queue", "agent_id"), ()),
    "survey.completed": (("call_id",), ("csat", "nps", "ces", "queue", "agent_id")),
    "agent.state": (("agent_id", "state"), ("reason", "queues")),
}
assert set(DATA_FIELDS) == EVENT_TYPES
# type -> optional data fields of which one or more must be present
ONE_OR_MORE_OF: Final[dict[str, tuple[str, ...]]] = {"survey.completed": tuple(SURVEY_SCORES)}


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
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None
    # Personal data: kept only until the calls step hashes it (metrics/callers.py), never
    # stored, never shown (a logged event shows it hidden).
    caller: str | None = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields[:-1], self, strict=False))
        return f"Event({shown}{'' if self.caller is None else ', caller=<hidden>'})"


class Rejection(ValueError):
    """An event that is not valid. ``reason`` is a short label value, ``detail`` is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
