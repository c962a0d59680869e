"""``ccmetrics replay``: event files through the engine, without Kafka.

"Now" is ``--until`` (default: the newest event's time); events after it are ignored.
The output is the Prometheus text exposition the worker would serve at that instant.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from stream.progress import Progress
from stream.sources import Accepted, Ignored, Item, Rejected, read_files

ADVANCE_EVERY = 10_000  # events between moves of "now", which lets old window buckets go


@dataclass
class ReplayReport:
    """What happened to the input, for the summary on standard error."""

    accepted: int = 0
    after_until: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)

    def summary(self, out: TextIO, show: int = 10) -> None:
        for rejected in self.rejected[:show]:
            print(f"rejected {rejected.where}: {rejected.reason}: {rejected.detail}", file=out)
        if len(self.rejected) > show:
            print(f"... and {len(self.rejected) - show} more rejected lines", file=out)
        if self.ignored:
            print(f"ignored (unknown type): {dict(self.ignored)}", file=out)
        if self.after_until:
            print(f"ignored {self.after_until} events after --until", file=out)


def replay_items(
    items: Iterable[Item], settings: Settings, until_us: int | None = None
) -> tuple[Snapshot, ReplayReport]:
    """Fold decoded items into a fresh engine and take the snapshot at ``until_us``."""
    engine, report = Engine(settings), ReplayReport()
    newest: int | None = None
    apply, accepted = engine.apply, 0
    for item in items:
        if isinstance(item, Accepted):
            time_us = item.event.time_us
            if until_us is not None and time_us > until_us:
                report.after_until += 1
                continue
            apply(item.event, item.unknown_fields)
            accepted += 1
            if newest is None or time_us > newest:
                newest = time_us
            if accepted % ADVANCE_EVERY == 0:
                engine.advance(newest)
        elif isinstance(item, Ignored):
            engine.stats.ignored("unknown_type")
            report.ignored[item.type] += 1
        else:
            engine.stats.rejected(item.reason)
            report.rejected.append(item)
    report.accepted = accepted
    now = until_us if until_us is not None else (newest or 0)
    return engine.snapshot(now, let_go=False), report


def replay_files(
    paths: list[Path], fmt: str, settings: Settings, until_us: int | None = None, err: TextIO | None = None
) -> Snapshot:
    """Replay files, with progress and a summary of rejected lines on ``err`` (standard error)."""
    err = err or sys.stderr
    progress = Progress(sum(p.stat().st_size for p in paths), out=err)
    snapshot, report = replay_items(read_files(paths, fmt, progress), settings, until_us)
    progress.done()
    report.summary(err)
    return snapshot
