"""The garbage collector's pauses, each told as it ends (``gc.callbacks``).

A collection holds the event loop however the work around it is sliced: a young one for the
containers made since the one before, a full one for every container tracked (about a
microsecond each on a slow machine: a second at 500 queues and 5,000 agents). The worker
reports them as the stages ``gc_young`` and ``gc_full`` (:mod:`stream.stage_timings`); the
scrape benchmark counts them. Usage::

    with GcPauses(lambda generation, seconds: print(generation, seconds)):
        gc.collect()
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

PauseReport = Callable[[int, float], None]  # (generation collected, seconds it took)


class GcPauses:
    """Tells ``report`` of each collection while started (or inside a ``with`` block)."""

    def __init__(self, report: PauseReport) -> None:
        self.report = report
        self._began = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._noted)

    def stop(self) -> None:
        gc.callbacks.remove(self._noted)

    def __enter__(self) -> GcPauses:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _noted(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.report(info["generation"], time.perf_counter() - self._began)
