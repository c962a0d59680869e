"""Decoding and validating contract events (CloudEvents 1.0, structured JSON mode).

Pure Python (orjson, no faust), shared by the worker and ``ccmetrics replay``. Usage::

    try:
        decoded = decode(raw_bytes)
    except Rejection as rejection:
        print(rejection.reason, rejection.detail)    # goes to callcenter.rejected
    else:
        decoded.event                                 # None for an unknown type (ignored)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import orjson

from metrics.contract.events import (
    AGENT_STATES,
    DATA_FIELDS,
    ENVELOPE_OPTIONAL,
    ENVELOPE_REQUIRED,
    FLOW_OUT_REASONS,
    MAX_AGENT_QUEUES,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_QUEUE_CHARS,
    ONE_OR_MORE_OF,
    SURVEY_SCORES,
    Event,
    Rejection,
)
from metrics.sharing import QUEUE_LISTS
from metrics.timeutil import parse_rfc3339_us


class Decoded(NamedTuple):
    """A valid envelope: the event (``None`` if its type is unknown) and unknown fields seen."""

    event: Event | None
    unknown_fields: int
    type: str


def decode(raw: bytes) -> Decoded:
    """Decode one event; raise :class:`Rejection` with the reason if it is not valid."""
    if len(raw) > MAX_EVENT_BYTES:
        raise Rejection("too_large", f"{len(raw)} bytes; at most {MAX_EVENT_BYTES}")
    document = _load_json(raw)
    if not isinstance(document, dict):
        raise Rejection("not_object", "an event is a JSON object")
    return decode_document(document)


def decode_document(document: dict[str, Any]) -> Decoded:
    """Validate an already parsed JSON object as an event."""
    try:
        spec, event_id, source = document["specversion"], document["id"], document["source"]
        event_type, time_text, data = document["type"], document["time"], document["data"]
    except KeyError:
        raise _missing(document, ENVELOPE_REQUIRED, "envelope field {!r} is missing") from None
    if spec != "1.0":
        raise Rejection("bad_specversion", f'specversion must be "1.0", not {spec!r}')
    if not (
        type(event_id) is str
        and type(source) is str
        and type(event_type) is str
        and 0 < len(event_id) <= MAX_ID_CHARS
        and 0 < len(source) <= MAX_ID_CHARS
        and 0 < len(event_type) <= MAX_ID_CHARS
    ):
        _check_texts(event_id, source, event_type)
    time_us = _time(time_text)
    if type(data) is not dict:
        raise Rejection("bad_field", "data must be a JSON object")
    unknown = len(document.keys() - _ENVELOPE_KNOWN) if len(document) > len(ENVELOPE_REQUIRED) else 0
    layout = _LAYOUTS.get(event_type)
    if layout is None:
        return Decoded(None, unknown, event_type)
    values = [event_id, event_type, time_us, source, *_EVENT_DEFAULTS]
    seen = layout.fill(values, data)
    unknown += len(data.keys() - layout.known) if len(data) > seen else 0
    # named tuples made with tuple.__new__: half the time of calling the class, once per event
    return _new(Decoded, (_new(Event, values), unknown, event_type))


_ENVELOPE_KNOWN: Final = frozenset(ENVELOPE_REQUIRED) | ENVELOPE_OPTIONAL
_new: Final = tuple.__new__
_EVENT_DEFAULTS: Final = tuple(Event._field_defaults[name] for name in Event._fields[4:])
_ABSENT: Final = object()
_ID_LIMITS: Final = {
    "call_id": MAX_ID_CHARS,
    "agent_id": MAX_ID_CHARS,
    "queue": MAX_QUEUE_CHARS,
    "to_queue": MAX_QUEUE_CHARS,
}
_NOT_KEPT: Final = -1  # the position of a field read but never kept (personal or unused data)


class _Layout:
    """Where each data field of one event type goes in :class:`Event`, and how it is checked."""

    def __init__(self, event_type: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        self.event_type = event_type
        self.fields = [
            (name, _position(name), _ID_LIMITS.get(name, 0), name in required, name in _SHARED)
            for name in required + optional
        ]
        self.known = frozenset(required + optional)
        self.one_or_more = ONE_OR_MORE_OF.get(event_type, ())

    def fill(self, values: list[Any], data: dict[str, Any]) -> int:
        """Check and place each field; return how many were present."""
        if self.one_or_more and not any(name in data for name in self.one_or_more):
            raise self._none_of_them()
        seen = 0
        for name, position, limit, needed, shared in self.fields:
            value = data.get(name, _ABSENT)
            if value is _ABSENT:
                if needed:
                    raise Rejection("missing_field", f"{self.event_type} needs data.{name}")
                continue
            seen += 1
            if not (type(value) is str and 0 < len(value) <= limit):  # else: a valid id, kept as is
                value = _FIELD_CHECKS[name](self.event_type, data, name)
            if position != _NOT_KEPT:
                values[position] = _intern(value) if shared else value
        return seen

    def _none_of_them(self) -> Rejection:
        names = ", ".join(f"data.{name}" for name in self.one_or_more)
        return Rejection("missing_field", f"{self.event_type} needs one or more of {names}")


# Queue and agent ids, agents' states and reasons repeat in every call's and agent's state:
# one string each, not one per event (interned strings are freed once nothing uses them).
_SHARED: Final = frozenset({"queue", "agent_id", "to_queue", "state", "reason"})
_intern: Final = sys.intern


def _position(name: str) -> int:
    if name == "priority":
        return _NOT_KEPT  # a routing hint: checked, never kept
    return Event._fields.index(name)


def _missing(document: dict[str, Any], names: tuple[str, ...], message: str) -> Rejection:
    missing = next(name for name in names if name not in document)
    return Rejection("missing_field", message.format(missing))


def _check_texts(event_id: Any, source: Any, event_type: Any) -> None:
    """Raise with the detail of the first envelope text that is not valid."""
    for name, value in (("id", event_id), ("source", source), ("type", event_type)):
        _text({name: value}, name, MAX_ID_CHARS)


def _load_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejection("bad_encoding", "not UTF-8") from None
        raise Rejection("bad_json", str(error)) from None


def _text(document: dict[str, Any], name: str, limit: int) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise Rejection("bad_field", f"{name!r} must be a non-empty string")
    if len(value) > limit:
        raise Rejection("bad_field", f"{name!r} is longer than {limit} characters")
    return value


def _time(value: Any) -> int:
    if not isinstance(value, str):
        raise Rejection("bad_time", "time must be an RFC 3339 string")
    try:
        return parse_rfc3339_us(value)
    except ValueError as error:
        if len(value) > 64:  # the reason quotes the value: not a long one
            raise Rejection("bad_time", f"time {value[:64]!r}... is not RFC 3339 with an offset") from None
        raise Rejection("bad_time", str(error)) from None


def _id(event_type: str, data: dict[str, Any], name: str) -> str:
    return _text(data, name, _ID_LIMITS[name])


def _any_text(event_type: str, data: dict[str, Any], name: str) -> str:
    return _text(data, name, MAX_ID_CHARS)


def _reason(event_type: str, data: dict[str, Any], name: str) -> str:
    value = _text(data, name, MAX_ID_CHARS)
    if event_type == "call.flowed_out" and value not in FLOW_OUT_REASONS:
        raise Rejection("bad_field", f"data.reason must be one of {sorted(FLOW_OUT_REASONS)}")
    return value


def _wrapup(event_type: str, data: dict[str, Any], name: str) -> bool:
    value = data[name]
    if not isinstance(value, bool):
        raise Rejection("bad_field", "data.wrapup must be true or false")
    return value


def _state(event_type: str, data: dict[str, Any], name: str) -> str:
    value = data[name]
    if value not in AGENT_STATES:
        raise Rejection("bad_field", f"data.state must be one of {list(AGENT_STATES)}")
    return str(value)


def _queues(event_type: str, data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data[name]
    if not isinstance(value, list):
        raise Rejection("bad_field", "data.queues must be a list of queue ids")
    if len(value) > MAX_AGENT_QUEUES:
        raise Rejection("bad_field", f"data.queues lists {len(value)} queues; at most {MAX_AGENT_QUEUES}")
    return QUEUE_LISTS.share(tuple(sorted({_text({"queue": q}, "queue", MAX_QUEUE_CHARS) for q in value})))


def _priority(event_type: str, data: dict[str, Any], name: str) -> int:
    value = data[name]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 3.0 is an integer to JSON Schema, and so to the published schema
    if not isinstance(value, int) or isinstance(value, bool):
        raise Rejection("bad_field", "data.priority must be an integer")
    return value


def _score(event_type: str, data: dict[str, Any], name: str) -> int:
    value = data[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    low, high = SURVEY_SCORES[name]
    if type(value) is not int or not low <= value <= high:
        raise Rejection("bad_value", f"data.{name} must be a whole number from {low} to {high}")
    return value


_FIELD_CHECKS: Final[dict[str, Callable[[str, dict[str, Any], str], Any]]] = {
    "call_id": _id,
    "queue": _id,
    "agent_id": _id,
    "to_queue": _id,
    "caller": _any_text,
    "reason": _reason,
    "wrapup": _wrapup,
    "state": _state,
    "queues": _queues,
    "priority": _priority,
    **dict.fromkeys(SURVEY_SCORES, _score),
}
_LAYOUTS: Final = {t: _Layout(t, required, optional) for t, (required, optional) in DATA_FIELDS.items()}
