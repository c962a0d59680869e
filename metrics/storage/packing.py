"""Cold state kept as bytes: a call or visit with no new event for a while, packed.

Most of a worker's state is calls and visits that are over but must be kept for hours in
case a late or re-sent event arrives (docs/architecture.md, "What is kept"). Packed, they
go to a cold store (:mod:`metrics.cold`); ``python -m benchmarks.state_size`` prints their
size. A packed value starts with its newest event time, readable without unpacking (its
expiry is set from it), then the ``marshal`` of its fields. ``marshal`` is
CPython's fastest serializer of tuples, ints and strings, and refers back to a string it has
already written (an event id held by several facts is written once). Its format is
specific to the Python version, so packed values never leave the process (the worker's
cold store is a file it unlinks as it opens it): changelogs keep their JSON. Usage::

    data = pack_call(record)
    packed_last_us(data) == record.last_us
    unpack_call(record.call_id, data)         # equal to record; pack_visit, unpack_visit alike
"""

from __future__ import annotations

import marshal
import struct
from typing import Any, Final, Protocol

from metrics.agent_calls import AgentCall
from metrics.callers import CallerHistory
from metrics.calls import FIELDS, CallRecord, Facts
from metrics.timeutil import US
from metrics.visits import Handling, Survey, Visit

COLD_AFTER_US: Final = 60 * US  # a call or visit with no event for this long (event time) is packed
_LAST_US: Final = struct.Struct("<q")


def before_last(last_us: int, time_us: int | None) -> int | None:
    """How long before ``last_us`` a time is; the same again gives the time back.

    Packed values keep their times so: ``marshal`` writes an int under 2**31 (35 minutes in
    microseconds) in 5 bytes, and an epoch time in microseconds in 13.
    """
    return None if time_us is None else last_us - time_us


def pack(last_us: int, fields: tuple[Any, ...]) -> bytes:
    """``fields`` (nested tuples of ints, strings, bools and None) behind ``last_us``."""
    return _LAST_US.pack(last_us) + marshal.dumps(fields)


def unpack(data: bytes) -> tuple[Any, ...]:
    """The fields given to :func:`pack`."""
    fields: tuple[Any, ...] = marshal.loads(memoryview(data)[_LAST_US.size :])
    return fields


class Timed(Protocol):
    """A call record or a visit: anything with the time of its newest event."""

    @property
    def last_us(self) -> int: ...


def last_us_of(stored: Timed | bytes) -> int:
    """The newest event time of a call record or visit, packed or not."""
    return packed_last_us(stored) if isinstance(stored, bytes) else stored.last_us


def packed_last_us(data: bytes) -> int:
    """The ``last_us`` given to :func:`pack`, without unpacking the rest."""
    last_us: int = _LAST_US.unpack_from(data)[0]
    return last_us


def pack_call(record: CallRecord) -> bytes:
    """A call record as bytes, a fifth of its size as objects."""
    facts = (_times_flipped(getattr(record, name), record.last_us) for name in FIELDS)
    return pack(record.last_us, (record.event_ids, *facts))


def unpack_call(call_id: str, data: bytes) -> CallRecord:
    """The record of ``call_id`` given to :func:`pack_call`."""
    record = CallRecord(call_id)
    record.last_us = packed_last_us(data)
    record.event_ids, *facts = unpack(data)
    for name, value in zip(FIELDS, facts, strict=True):
        setattr(record, name, _times_flipped(value, record.last_us))
    return record


def _times_flipped(facts: Facts, last_us: int) -> Facts:
    """Each fact with its time as time before ``last_us``, or back (see ``before_last``)."""
    return tuple((before_last(last_us, fact[0]), *fact[1:]) for fact in facts)


def pack_visit(visit: Visit) -> bytes:
    """A visit as bytes, without its call and queue."""
    last = visit.last_us
    handlings = tuple((before_last(last, done), handle) for done, handle in visit.handlings)
    transfers = tuple(before_last(last, t) for t in visit.transfers_us)
    times = (before_last(last, visit.queued_us), before_last(last, visit.outcome_us))
    blocked = before_last(last, visit.blocked_us)
    survey = _survey_flipped(visit.survey, last)
    identified = None if visit.identified is None else (last - visit.identified[0], visit.identified[1])
    added = (visit.flow_out_reason, survey, identified)
    return pack(last, (*times, visit.outcome, handlings, transfers, blocked, *added))


def unpack_visit(call_id: str, queue: str, data: bytes) -> Visit:
    """The visit of ``call_id`` in ``queue`` given to :func:`pack_visit`."""
    queued, outcome_at, outcome, handlings, transfers, blocked, reason, survey, identified = unpack(data)
    last = packed_last_us(data)
    return Visit(
        call_id,
        queue,
        last,
        before_last(last, queued),
        outcome,
        before_last(last, outcome_at),
        tuple(Handling(last - done, handle) for done, handle in handlings),
        tuple(last - t for t in transfers),
        before_last(last, blocked),
        reason,
        _survey_flipped(survey, last),
        None if identified is None else (last - identified[0], identified[1]),
    )


def pack_caller(history: CallerHistory) -> bytes:
    """A caller's history as bytes, without its hash (the key)."""
    last = history.last_us
    return pack(
        last, tuple((last - at, call_id, queue, repeat) for at, call_id, queue, repeat in history.entries)
    )


def unpack_caller(caller: str, data: bytes) -> CallerHistory:
    """The history of ``caller`` given to :func:`pack_caller`."""
    last = packed_last_us(data)
    return CallerHistory.from_json([caller, [(last - at, *rest) for at, *rest in unpack(data)]])


def pack_agent_call(told: AgentCall) -> bytes:
    """A call as its agent saw it, as bytes, without its call and agent ids."""
    last = told.last_us
    missed = tuple(last - at for at in told.missed_us)
    fields = (
        before_last(last, told.handled_us),
        told.handle_us,
        before_last(last, told.transferred_us),
        missed,
        _survey_flipped(told.survey, last),
    )
    return pack(last, fields)


def unpack_agent_call(call_id: str, agent_id: str, data: bytes) -> AgentCall:
    """The call of ``agent_id`` given to :func:`pack_agent_call`."""
    handled, handle_us, transferred, missed, survey = unpack(data)
    last = packed_last_us(data)
    return AgentCall(
        call_id,
        agent_id,
        last,
        before_last(last, handled),
        handle_us,
        before_last(last, transferred),
        tuple(last - at for at in missed),
        _survey_flipped(survey, last),
    )


def _survey_flipped(survey: Survey | None, last_us: int) -> Survey | None:
    """A survey with its time as time before ``last_us``, or back (see ``before_last``)."""
    return None if survey is None else (last_us - survey[0], *survey[1:])
