"""A call's stay in one queue, reduced to the facts the KPI rules read.

A :class:`Visit` is a pure function of the set of events seen for one call, so it does
not depend on their order or on duplicates. It is also the message that crosses from
the per-call processor to the per-queue processor in the worker.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from metrics.packing import before_last, pack, packed_last_us, unpack


class Handling(NamedTuple):
    """One agent's handling of the call, completed at ``done_us``.

    ``handle_us`` is talk + hold + after-call work: from answer to the end of wrap-up.
    """

    done_us: int
    handle_us: int


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
        ]

    def pack(self) -> bytes:
        """The visit as bytes, without its call and queue (see :mod:`metrics.packing`)."""
        last = self.last_us
        handlings = tuple((before_last(last, done), handle) for done, handle in self.handlings)
        transfers = tuple(before_last(last, t) for t in self.transfers_us)
        times = (before_last(last, self.queued_us), before_last(last, self.outcome_us))
        return pack(last, (*times, self.outcome, handlings, transfers, before_last(last, self.blocked_us)))

    @classmethod
    def unpack(cls, call_id: str, queue: str, data: bytes) -> Visit:
        """The visit of ``call_id`` in ``queue`` given to :meth:`pack`."""
        queued, outcome_at, outcome, handlings, transfers, blocked = unpack(data)
        last = packed_last_us(data)
        return cls(
            call_id,
            queue,
            last,
            before_last(last, queued),
            outcome,
            before_last(last, outcome_at),
            tuple(Handling(last - done, handle) for done, handle in handlings),
            tuple(last - t for t in transfers),
            before_last(last, blocked),
        )

    @classmethod
    def from_json(cls, row: list[Any]) -> Visit:
        call_id, queue, last_us, queued_us, outcome, outcome_us, handlings, transfers, blocked = row
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
        )
