"""The clock a batch of events is judged against: the one thing replay and the worker differ in.

A :class:`Reading` holds two instants. ``reached_us`` is how far the pipeline has got: an
event older than it by more than the maximum age is too late. ``arrived_us`` is when the
batch arrived: an event timed further ahead of it than the allowed clock skew is too early.
Live, both are the wall clock, read once per batch. A replay has no arrival time (each event
is taken to arrive at its own time, so nothing is too early) and has reached the latest
instant it was asked about (before the first, nothing is too late). Usage::

    clock = ReplayClock()
    clock.reading()                  # Reading(reached_us=None, arrived_us=None)
    clock.reach(1_767_607_200_000_000)
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple, Protocol


class Reading(NamedTuple):
    """The instants one batch is judged against; ``None`` where nothing can be judged."""

    reached_us: int | None
    arrived_us: int | None


NOTHING_TO_JUDGE: Final = Reading(None, None)


class Clock(Protocol):
    def reading(self) -> Reading:
        """The instants to judge the next batch against."""

    def reach(self, instant_us: int) -> None:
        """The pipeline was asked about ``instant_us`` (a snapshot): only a replay's clock moves."""


class LiveClock(Clock, Protocol):
    """A clock that also tells the time now, for what the worker does on a timer."""

    def now_us(self) -> int: ...


class WallClock:
    """The worker's clock: both instants are now.

    >>> WallClock().reading().reached_us > 1_700_000_000_000_000
    True
    """

    def reading(self) -> Reading:
        now = self.now_us()
        return Reading(now, now)

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def reach(self, instant_us: int) -> None:
        pass


class ReplayClock:
    """The replay's clock: the latest instant asked about, never moving back."""

    def __init__(self) -> None:
        self.reached_us: int | None = None

    def reach(self, instant_us: int) -> None:
        if self.reached_us is None or instant_us > self.reached_us:
            self.reached_us = instant_us

    def reading(self) -> Reading:
        return NOTHING_TO_JUDGE if self.reached_us is None else Reading(self.reached_us, None)


class FixedClock:
    """A clock stopped at one instant, live-style (tests, and comparing replay with the worker)."""

    def __init__(self, instant_us: int) -> None:
        self.instant_us = instant_us

    def reading(self) -> Reading:
        return Reading(self.instant_us, self.instant_us)

    def now_us(self) -> int:
        return self.instant_us

    def reach(self, instant_us: int) -> None:
        pass
