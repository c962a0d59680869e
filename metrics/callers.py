"""Repeat calls: callers known only by a keyed hash, and which of their calls are repeats.

A ``call.queued`` event that names a ``caller`` makes a :class:`CallerMark`: the caller's
HMAC-SHA256 under a secret (:class:`CallerHasher`; without a secret nothing about callers
is kept), the call, its queue and its queued time. A :class:`CallerHistory` holds one
caller's marks and says of each whether it is a repeat: another call of the same caller was
queued within the repeat window before it (docs/metrics.md, "Repeat calls"). A mark that
arrives late can only turn later marks into repeats, never the other way: the verdicts that
changed are what the queues are told. Usage::

    hasher = CallerHasher.from_secret(b"secret")
    mark = hasher.mark("+15551234", "c1", "sales", queued_us)
    history = CallerHistory(mark.caller)
    changed = history.add([mark], window_us)       # [(queue, Verdict), ...]
"""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_left, insort
from typing import Any, Final, NamedTuple

# Caller ids that name nobody: a withheld number is shared by every caller who withholds it.
WITHHELD: Final = frozenset({"", "anonymous", "unknown", "unavailable", "restricted", "private", "withheld"})
# HMAC-SHA256 truncated to 128 bits (RFC 2104 allows half the hash): no two callers share it
# in any real number of callers, and each caller kept on disk costs 64 bytes less.
HASH_HEX_CHARS: Final = 32
MAX_MARKS: Final = 1_000  # per caller: a number calling more often within the window is a switchboard


class CallerMark(NamedTuple):
    """One call queued by one (hashed) caller."""

    caller: str  # hex HMAC-SHA256 of the caller id, its first 128 bits
    call_id: str
    queue: str
    at_us: int


class Verdict(NamedTuple):
    """Whether one call's stay in a queue, queued at ``at_us``, is a repeat call.

    >>> Verdict("c2", 7_200_000_000, True).repeat
    True
    """

    call_id: str
    at_us: int
    repeat: bool

    def to_json(self) -> list[Any]:
        return [self.call_id, self.at_us, self.repeat]

    @classmethod
    def from_json(cls, row: list[Any]) -> Verdict:
        call_id, at_us, repeat = row
        return cls(call_id, at_us, bool(repeat))


class CallerHasher:
    """Makes marks from callers; the caller in clear never leaves :meth:`mark`.

    >>> hasher = CallerHasher.from_secret(b"k")
    >>> hasher.mark("anonymous", "c1", "q", 0) is None, len(hasher.mark("+1555", "c1", "q", 0).caller)
    (True, 32)
    """

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, digestmod=hashlib.sha256)  # copied per caller: the key set up once

    @classmethod
    def from_secret(cls, secret: bytes | None) -> CallerHasher | None:
        """A hasher, or ``None`` (the feature off) for no secret or an empty one."""
        return cls(secret) if secret else None

    def mark(self, caller: str, call_id: str, queue: str, at_us: int) -> CallerMark | None:
        """The mark of a call queued by ``caller``; ``None`` for a withheld number."""
        caller = caller.strip()
        if caller.casefold() in WITHHELD:
            return None
        digest = self._key.copy()
        digest.update(caller.encode())
        return CallerMark(digest.hexdigest()[:HASH_HEX_CHARS], call_id, queue, at_us)


class _Entry(NamedTuple):
    at_us: int
    call_id: str
    queue: str
    repeat: bool


class CallerHistory:
    """One caller's queued calls in time order, each with its verdict.

    >>> history = CallerHistory("ab")
    >>> history.add([CallerMark("ab", "c2", "q", 50)], window_us=100)
    [('q', Verdict(call_id='c2', at_us=50, repeat=False))]
    >>> for told in history.add([CallerMark("ab", "c1", "q", 10)], window_us=100):  # late: c2 repeats
    ...     print(told)
    ('q', Verdict(call_id='c1', at_us=10, repeat=False))
    ('q', Verdict(call_id='c2', at_us=50, repeat=True))
    """

    __slots__ = ("caller", "entries")

    def __init__(self, caller: str, entries: list[_Entry] | None = None) -> None:
        self.caller = caller
        self.entries: list[_Entry] = [] if entries is None else entries  # sorted

    @property
    def last_us(self) -> int:
        """The newest queued time (a history is never stored empty)."""
        return self.entries[-1].at_us if self.entries else 0

    def add(self, marks: list[CallerMark], window_us: int) -> list[tuple[str, Verdict]]:
        """Take marks in; every verdict they give or change, by queue (again for one seen before)."""
        told: dict[tuple[int, str, str], _Entry] = {}  # the latest of each, as it ends
        for mark in marks:
            told.update((entry[:3], entry) for entry in self._add(mark, window_us))
        self._cap()
        return [(e.queue, Verdict(e.call_id, e.at_us, e.repeat)) for _, e in sorted(told.items())]

    def _add(self, mark: CallerMark, window_us: int) -> list[_Entry]:
        """The mark's entry, and the entries it turned into repeats.

        Every distinct mark is kept (a call queued twice in a queue has two); a queue counts
        the earliest of a call's, so the verdicts depend on the set of marks, not their order.
        """
        low = bisect_left(self.entries, (mark.at_us,))
        for entry in self.entries[low : bisect_left(self.entries, (mark.at_us + 1,))]:
            if entry.call_id == mark.call_id and entry.queue == mark.queue:
                return [entry]  # a duplicate: told again, as a crash may have lost the first telling
        entry = _Entry(mark.at_us, mark.call_id, mark.queue, self._other_call_within(mark, window_us))
        insort(self.entries, entry)
        return [entry, *self._turn_later(entry, window_us)]

    def _other_call_within(self, mark: CallerMark, window_us: int) -> bool:
        """Whether another call was queued in ``[at - window, at)``."""
        low = bisect_left(self.entries, (mark.at_us - window_us,))
        high = bisect_left(self.entries, (mark.at_us,))
        return any(e.call_id != mark.call_id for e in self.entries[low:high])

    def _turn_later(self, entry: _Entry, window_us: int) -> list[_Entry]:
        """Make repeats of the other calls' entries in ``(at, at + window]``; those changed."""
        low = bisect_left(self.entries, (entry.at_us + 1,))
        high = bisect_left(self.entries, (entry.at_us + window_us + 1,))
        changed = []
        for index in range(low, high):
            later = self.entries[index]
            if not later.repeat and later.call_id != entry.call_id:
                self.entries[index] = later = later._replace(repeat=True)
                changed.append(later)
        return changed

    def _cap(self) -> None:
        if len(self.entries) > MAX_MARKS:
            del self.entries[: len(self.entries) - MAX_MARKS]

    def trim(self, before_us: int) -> None:
        """Forget calls queued before ``before_us`` (no mark admitted from now on can reach them)."""
        del self.entries[: bisect_left(self.entries, (before_us,))]

    def to_json(self) -> list[Any]:
        return [self.caller, [list(entry) for entry in self.entries]]

    @classmethod
    def from_json(cls, row: list[Any]) -> CallerHistory:
        caller, entries = row
        return cls(
            caller, [_Entry(at, call_id, queue, bool(repeat)) for at, call_id, queue, repeat in entries]
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallerHistory) and (self.caller, self.entries) == (
            other.caller,
            other.entries,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable
