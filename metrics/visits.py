"""A call's stay in one queue, reduced to the facts the KPI rules read.

A :class:`Visit` is a pure function of the set of events seen for one call, so it does
not depend on their order or on duplicates. It is also the message that crosses from
the per-call processor to the per-queue processor in the worker.
"""

from __future__ import annotations

import sys
from typing import Any, Final, NamedTuple


class Handling(NamedTuple):
    """One agent's handling of the call, completed at ``done_us``.

    ``handle_us`` is talk + hold + after-call work: from answer to the end of wrap-up.
    """

    done_us: int
    handle_us: int


Survey = tuple[int, int | None, int | None, int | None]  # (time, csat, nps, ces)
Identified = tuple[int, bool]  # (queued time, whether a repeat call): see metrics/callers.py


class Visit(NamedTuple):
    """What is known of one call in one queue (a named tuple: cheap to build and compare).

    >>> Visit("c1", "sales", queued_us=0, outcome="answered", outcome_us=12_000_000,
    ...       last_us=12_000_000).wait_us
    12000000
    """

    call_id: str
    queue: str
    last_us: int
    queued_us: int | None = None
    outcome: str | None = None  # "answered", "abandoned" or "flowed_out"
    outcome_us: int | None = None
    handlings: tuple[Handling, ...] = ()
    transfers_us: tuple[int, ...] = ()
    blocked_us: int | None = None
    flow_out_reason: str | None = None  # the reason of a flow-out (docs/events.md)
    survey: Survey | None = None  # the call's survey, when it counts in this queue
    identified: Identified | None = None  # a caller was named: told by the callers step, not the calls step

    @property
    def wait_us(self) -> int | None:
        """Time from queueing to the outcome, when both are known."""
        if self.queued_us is None or self.outcome_us is None:
            return None
        return self.outcome_us - self.queued_us

    def to_json(self) -> list[Any]:
        """A compact JSON-able form for Kafka topics and table changelogs."""
        handlings = [[h.done_us, h.handle_us] for h in self.handlings]
        return [
            self.call_id,
            self.queue,
            self.last_us,
            self.queued_us,
            self.outcome,
            self.outcome_us,
            handlings,
            list(self.transfers_us),
            self.blocked_us,
            *self._optional_json(),
        ]

    def _optional_json(self) -> tuple[Any, ...]:
        """The fields added since the first form, as far as they are set (older rows stay short)."""
        added = (
            self.flow_out_reason,
            None if self.survey is None else list(self.survey),
            None if self.identified is None else list(self.identified),
        )
        end = len(added)
        while end and added[end - 1] is None:
            end -= 1
        return added[:end]

    @classmethod
    def from_json(cls, row: list[Any]) -> Visit:
        call_id, queue, last_us, queued_us, outcome, outcome_us, handlings, transfers, blocked = row[:9]
        reason = row[9] if len(row) > 9 else ("other" if outcome == "flowed_out" else None)  # older rows
        survey = tuple(row[10]) if len(row) > 10 and row[10] is not None else None
        identified = (row[11][0], bool(row[11][1])) if len(row) > 11 and row[11] is not None else None
        return cls(
            call_id,
            sys.intern(queue),  # one string per queue, not one per visit
            last_us,
            queued_us,
            None if outcome is None else sys.intern(outcome),  # one of three names: no copy per visit
            outcome_us,
            tuple(Handling(done, handle) for done, handle in handlings),
            tuple(transfers),
            blocked,
            None if reason is None else sys.intern(reason),
            survey,
            identified,
        )


# Named tuples are made with tuple.__new__ where made once an event or more: calling the class,
# or its ``_replace``, runs the interpreted code namedtuple writes, even in the compiled build.
_new: Final = tuple.__new__


VisitFields = tuple[
    str, str, int, int | None, str | None, int | None, tuple[Handling, ...], tuple[int, ...], int | None,
    str | None, Survey | None, Identified | None,
]  # fmt: skip


def new_visit(fields: VisitFields) -> Visit:
    """A visit of all its fields, in order (typed: a field out of place fails mypy)."""
    return _new(Visit, fields)


def told_of_caller(visit: Visit, identified: Identified | None, last_us: int) -> Visit:
    """``visit`` with what the callers step told of it, and its newest time ``last_us``.

    >>> told_of_caller(Visit("c1", "sales", 5), (5, True), 7).identified
    (5, True)
    """
    return _new(Visit, (visit.call_id, visit.queue, last_us, *visit[3:11], identified))
