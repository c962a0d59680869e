"""Housekeeping turns are spread over the period, never all at one moment."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from stream import housekeeping
from stream.housekeeping import EVERY_SECONDS, Schedule


def test_each_step_and_partition_gets_its_turn_at_its_own_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(housekeeping.time, "monotonic", lambda: clock[0])
    schedule, turns = Schedule(), {}
    records = [SimpleNamespace(partition=p) for p in range(4)]
    for tick in range(int(3 * EVERY_SECONDS * 10)):
        clock[0] = 1000.0 + tick / 10
        for step in ("calls", "queues", "board"):
            for partition in schedule.due(step, records):  # type: ignore[arg-type]
                turns.setdefault((step, partition), []).append(round(clock[0] - 1000.0, 1))
    firsts = sorted(times[0] for times in turns.values())
    assert len(turns) == 12 and len(set(firsts)) == 12  # twelve distinct moments
    assert all(
        b - a >= EVERY_SECONDS - 1e-6 for times in turns.values() for a, b in itertools.pairwise(times)
    )
    assert all(len(times) >= 2 for times in turns.values())  # and each comes round again
