"""``ccmetrics replay``: event files through the engine, without Kafka.

"Now" is ``--until`` (default: the newest event's time); events after it are ignored.
The output is the Prometheus text exposition the worker would serve at that instant.
A file none of whose lines is valid is an error that says which format it looks like (or,
among valid files, a note).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from stream.problems import UsageProblem
from stream.progress import Progress
from stream.queue_log import QueueLogMapper
from stream.sources import Accepted, Ignored, Item, Rejected, read_files

ADVANCE_EVERY = 10_000  # events between moves of "now", which lets old window buckets go
SHOW_REJECTED = 10  # rejected lines listed on standard error; the rest are only counted
_QUEUE_LOG_LINE = re.compile(rb"^\d{9,11}(\.\d+)?\|[^|]*\|[^|]*\|[^|]*\|[A-Z_]+")


class Tally(NamedTuple):
    valid: int
    rejected: int


@dataclass
class ReplayReport:
    """What happened to the input, for the summary on standard error."""

    accepted: int = 0
    after_until: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # the first SHOW_REJECTED
    rejected_count: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # unknown types, by type
    not_measured: Counter[str] = field(default_factory=Counter)  # queue_log verbs ignored on purpose

    def reject(self, item: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < SHOW_REJECTED:
            self.rejected.append(item)

    def tally(self) -> Tally:
        """Valid events (counted, or after --until) and rejected lines so far."""
        return Tally(self.accepted + self.after_until, self.rejected_count)

    def summary(self, out: TextIO) -> None:
        for rejected in self.rejected:
            print(f"rejected {rejected.where}: {rejected.reason}: {rejected.detail}", file=out)
        if self.rejected_count > len(self.rejected):
            print(f"... and {self.rejected_count - len(self.rejected)} more rejected lines", file=out)
        if self.ignored:
            print(f"ignored (unknown type): {dict(self.ignored)}", file=out)
        if self.not_measured:
            print(f"ignored on purpose (nothing to measure): {dict(self.not_measured)}", file=out)
        if self.after_until:
            print(f"ignored {self.after_until} events after --until", file=out)


class Replay:
    """One engine fed with decoded items, file by file; :meth:`snapshot` at the end.

    >>> replay = Replay(Settings())
    >>> replay.feed([])
    >>> replay.snapshot().queues
    ()
    """

    def __init__(
        self, settings: Settings, until_us: int | None = None, caller_secret: bytes | None = None
    ) -> None:
        self.engine, self.report = Engine(settings, caller_secret=caller_secret), ReplayReport()
        self.until_us = until_us
        self.newest: int | None = None

    def feed(self, items: Iterable[Item]) -> None:
        engine, report, until_us = self.engine, self.report, self.until_us
        apply, accepted, newest = engine.apply, report.accepted, self.newest
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
                engine.stats.ignored(item.reason)
                (report.ignored if item.reason == "unknown_type" else report.not_measured)[item.type] += 1
            else:
                engine.stats.rejected(item.reason)
                report.reject(item)
        report.accepted, self.newest = accepted, newest

    def snapshot(self) -> Snapshot:
        now = self.until_us if self.until_us is not None else (self.newest or 0)
        return self.engine.snapshot(now)


def replay_items(
    items: Iterable[Item], settings: Settings, until_us: int | None = None, caller_secret: bytes | None = None
) -> tuple[Snapshot, ReplayReport]:
    """Fold decoded items into a fresh engine and take the snapshot at ``until_us``."""
    replay = Replay(settings, until_us, caller_secret)
    replay.feed(items)
    return replay.snapshot(), replay.report


def replay_files(
    paths: list[Path],
    fmt: str,
    settings: Settings,
    until_us: int | None = None,
    err: TextIO | None = None,
    caller_secret: bytes | None = None,
) -> Snapshot:
    """Replay files, with progress and a summary of rejected lines on ``err`` (standard error).

    A file with every line rejected raises :class:`UsageProblem` when it looks like the other
    format, or when no file had a valid line; else it is noted, like any rejected line.
    """
    err = err or sys.stderr
    progress = Progress(sum(p.stat().st_size for p in paths), out=err)
    replay, wholly_rejected, advice = Replay(settings, until_us, caller_secret), [], list[str]()
    for path in paths:
        before = replay.report.tally()
        mapper = QueueLogMapper(members=settings.asterisk.members)
        replay.feed(read_files([path], fmt, progress, mapper))
        advice += mapper.forms.advice()
        after = replay.report.tally()
        if after.valid == before.valid and after.rejected > before.rejected:
            wholly_rejected.append((path, _format_hint(path, fmt)))
    progress.done()
    replay.report.summary(err)
    for note in advice:
        print(note, file=err)
    _judge_wholly_rejected(wholly_rejected, nothing_valid=replay.report.tally().valid == 0)
    for path, hint in wholly_rejected:
        print(f"note: every line of {path} was rejected; {hint.advice}", file=err)
    return replay.snapshot()


def _judge_wholly_rejected(files: list[tuple[Path, FormatHint]], nothing_valid: bool) -> None:
    """Raise for a file in the wrong format, or when no file had one valid line."""
    for path, hint in files:
        if nothing_valid or hint.other_format:
            raise UsageProblem(f"{path}: every line was rejected; {hint.advice}")


class FormatHint(NamedTuple):
    other_format: bool  # the file looks like the format not given
    advice: str


def _format_hint(path: Path, fmt: str) -> FormatHint:
    """Which format the file's first line looks like, as advice."""
    with path.open("rb") as handle:
        first = next((line.strip() for line in handle if line.strip()), b"")
    if first.startswith(b"{") and fmt != "cloudevents":
        return FormatHint(True, "it looks like CloudEvents JSON lines: try --format cloudevents")
    if _QUEUE_LOG_LINE.match(first.lstrip(b"\0")) and fmt != "asterisk-queue-log":
        return FormatHint(True, "it looks like an Asterisk queue_log: try --format asterisk-queue-log")
    return FormatHint(False, f"it is not {fmt} input either (see docs/events.md and docs/asterisk.md)")
