"""What expired visits contributed: the sums of the current local day and of all time.

A queue lets a visit go once none of its contributions can fall inside a rolling window any
more; only ``today`` and ``total`` still count them. Kept in a table, these sums make a
restarted worker's ``today`` and ``_total`` values exact. Usage::

    settled = Settled.empty(slots=20)
    settled.add(contributions, day_start_us)     # the expired visit, and now's local day
    sums.restore(settled)                          # on a fresh WindowSums, after a restart
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Settled:
    """Per-slot sums of expired visits' contributions: from ``day_start_us`` on, and of all time."""

    day_start_us: int
    today: list[int]
    total: list[int]

    @classmethod
    def empty(cls, slots: int) -> Settled:
        return cls(0, [0] * slots, [0] * slots)

    def add(self, contributions: Iterable[tuple[int, int, int]], day_start_us: int) -> None:
        """Count contributions of a visit expired while now is in the day from ``day_start_us``."""
        if day_start_us != self.day_start_us:
            self.day_start_us, self.today = day_start_us, [0] * len(self.today)
        for at_us, slot, value in contributions:
            self.total[slot] += value
            if at_us >= day_start_us:
                self.today[slot] += value

    def padded(self, slots: int) -> Settled:
        """The same sums with zeros for slots added since they were stored."""
        more = [0] * max(0, slots - len(self.total))
        return Settled(self.day_start_us, [*self.today, *more], [*self.total, *more])

    def to_json(self) -> list[Any]:
        return [self.day_start_us, self.today, self.total]

    @classmethod
    def from_json(cls, row: list[Any]) -> Settled:
        return cls(row[0], list(row[1]), list(row[2]))
