"""The collector's pauses reach the worker's stage histogram: young and full apart."""

from __future__ import annotations

import gc

from stream.gc_pauses import GcPauses
from stream.stage_timings import StageTimings


def test_each_collection_is_told_while_watched_and_none_after() -> None:
    told: list[tuple[int, float]] = []
    with GcPauses(lambda generation, seconds: told.append((generation, seconds))):
        gc.collect(2)
        gc.collect(0)
    gc.collect(2)
    assert [generation for generation, _ in told] == [2, 0]
    assert all(seconds >= 0 for _, seconds in told)


def test_a_full_collection_is_the_gc_full_stage_and_a_young_one_gc_young() -> None:
    timings = StageTimings()
    with GcPauses(timings.collected):
        gc.collect(2)
    timings.collected(1, 0.03)
    assert sum(timings.buckets["gc_full"]) == 1 and sum(timings.buckets["gc_young"]) == 1
    assert timings.sums["gc_young"] == 0.03
    assert b'callcenter_pipeline_stage_seconds_count{stage="gc_full"} 1' in timings.text()
