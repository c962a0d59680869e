"""Where an event waits in the worker, stage by stage: ``callcenter_pipeline_stage_seconds{stage}``.

Each stage is observed once per batch (what an operator needs is where lag builds, and one
observation per record would cost the hot path):

- ``calls_fetch``, ``agents_fetch``: from the oldest record's publish time (its Kafka
  timestamp) to its step starting on it; ``queues_fetch``, ``board_fetch``,
  ``callers_fetch``: the same for the internal topics, from the step that sent the message;
- ``calls``, ``agents``, ``queues``, ``board``, ``callers``: the step's work on one batch, and
  ``housekeeping`` (part of it): expiring and packing one partition's old state;
- ``delivery``: from a batch's output handed to the producer to Kafka having all of it (its
  records are acknowledged then);
- ``snapshot``: from the first queue update after a snapshot to the next snapshot;
  ``snapshot_work`` and ``render``: taking one, and writing it as Prometheus text (their own
  work: they run in slices, and the other tasks' turns between are left out);
- ``give_back_memory``: returning the C heap's free pages to the system (a timer's);
- ``gc_young``, ``gc_full``: a garbage collection of the young generations, of all objects
  (:mod:`stream.gc_pauses`): everything waits for it.

Usage::

    timings = StageTimings()
    timings.waited("calls_fetch", records, time.time())
    timings.observe("calls", 0.004)
    timings.text()          # the histogram, as Prometheus text
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from stream.exporter.numbers import number
from stream.exporter.text import histogram_lines

NAME = "callcenter_pipeline_stage_seconds"
HELP = "Seconds a batch spent waiting in or working at each stage of the worker's pipeline"
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LE = [*(number(bound) for bound in BOUNDS), "+Inf"]
STAGES = (
    "calls_fetch",
    "calls",
    "agents_fetch",
    "agents",
    "delivery",
    "queues_fetch",
    "queues",
    "board_fetch",
    "board",
    "callers_fetch",
    "callers",
    "housekeeping",
    "snapshot",
    "snapshot_work",
    "render",
    "give_back_memory",
    "gc_young",
    "gc_full",
)
FULL_COLLECTION = 2  # the generation a full collection collects


class StageTimings:
    """A histogram per stage, and the instant queue updates began waiting for a snapshot."""

    def __init__(self) -> None:
        self.buckets = {stage: [0] * (len(BOUNDS) + 1) for stage in STAGES}
        self.sums = dict.fromkeys(STAGES, 0.0)
        self._unseen_since: float | None = None  # monotonic: first update since the last snapshot

    def observe(self, stage: str, seconds: float) -> None:
        self.buckets[stage][bisect_left(BOUNDS, seconds)] += 1
        self.sums[stage] += seconds

    def waited(self, stage: str, records: Iterable[Any], now: float) -> None:
        """How long the oldest of ``records`` waited since it was published (``now``: epoch s)."""
        oldest = min((r.timestamp for r in records), default=None)
        if oldest is not None and oldest > 0:
            self.observe(stage, max(0.0, now - oldest / 1000))

    def collected(self, generation: int, seconds: float) -> None:
        """A garbage collection's pause (a :class:`~stream.gc_pauses.GcPauses` report)."""
        self.observe("gc_full" if generation == FULL_COLLECTION else "gc_young", seconds)

    def delivered(self, handed_over: float, _: object) -> None:
        """A done-callback of a batch's delivery (``functools.partial`` with its start)."""
        self.observe("delivery", time.monotonic() - handed_over)

    def updated(self) -> None:
        """Queue updates were applied: they wait for the next snapshot from now on."""
        if self._unseen_since is None:
            self._unseen_since = time.monotonic()

    def updates_wait(self) -> bool:
        """Whether queue updates were applied since the latest snapshot."""
        return self._unseen_since is not None

    def snapshot_started(self) -> float | None:
        """A snapshot begins: updates applied from now on wait for the next one. Returns the
        instant the updates it shows began waiting (``None``: none did)."""
        since, self._unseen_since = self._unseen_since, None
        return since

    def snapshotted(self, since: float | None) -> None:
        """A snapshot that began with updates waiting ``since`` is there."""
        if since is not None:
            self.observe("snapshot", time.monotonic() - since)

    def text(self) -> bytes:
        out = [f"# HELP {NAME} {HELP}\n# TYPE {NAME} histogram\n"]
        for stage in STAGES:
            histogram_lines(out, NAME, f'stage="{stage}"', _LE, self.buckets[stage], self.sums[stage])
        return "".join(out).encode()
