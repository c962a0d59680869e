"""``ccmetrics publish FILE --format ... [--follow]``: an event file onto Kafka.

CloudEvents lines are sent as they are (unknown fields kept); queue_log lines are mapped to
contract events first. Invalid lines are reported with their line number and not sent.
With ``--follow`` the file is read like ``tail -F`` (:class:`FollowedFile`): new lines are
sent as they are written, a partial last line waits for its newline, a rotated log is read to
its end before the new one is read from its start, and a file truncated in place is read
again from its start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from metrics.settings import Settings
from stream.deploy import Deployment
from stream.encode import to_json_line
from stream.kafka_out import EventProducer
from stream.queue_log import QueueLogMapper
from stream.sources import FORMATS, Accepted, Ignored, check_readable, read_lines
from stream.stop_request import StopRequest

POLL_SECONDS = 0.2
SHOW_INVALID = 100  # invalid lines listed on standard error; the rest are only counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", choices=FORMATS, default="cloudevents")
    parser.add_argument("--follow", action="store_true", help="keep sending lines as the file grows")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML settings file, for its [asterisk] section (default: CCMETRICS_CONFIG)",
    )
    parser.set_defaults(run=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    if args.file.exists() or not args.follow:  # a followed log may not be there yet
        check_readable(args.file)
    deployment = Deployment.from_env(os.environ)
    members = Settings.load(args.config or deployment.config).asterisk.members
    return asyncio.run(publish(args.file, args.format, args.follow, deployment, members))


@dataclass
class Counts:
    sent: int = 0
    bad: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # by type or queue_log verb


async def publish(
    path: Path, fmt: str, follow: bool, deployment: Deployment, members: Mapping[str, str] | None = None
) -> int:
    """Send the file's events; return 1 if any line was invalid, else 0.

    SIGINT or SIGTERM ends it cleanly: what was read is sent and flushed first.
    """
    counts = Counts()
    mapper, next_line = QueueLogMapper(members=members), 1
    async with EventProducer(deployment) as producer, StopRequest() as stop:
        async for lines in _batches(path, follow, stop):
            await _send_lines(producer, lines, fmt, str(path), mapper, next_line, counts)
            next_line += len(lines)
            if not await stop.unless_stopped(producer.flush()):
                break
    for advice in mapper.forms.advice():
        print(advice, file=sys.stderr)
    sent, bad = counts.sent, counts.bad
    stopped = " (stopped)" if stop.requested else ""
    print(
        f"published {sent} events from {path}{stopped}" + (f", {bad} invalid lines not sent" if bad else ""),
        file=sys.stderr,
    )
    if counts.ignored:
        print(f"not sent, nothing to measure or an unknown type: {dict(counts.ignored)}", file=sys.stderr)
    return 1 if bad else 0


async def _send_lines(
    producer: EventProducer,
    lines: list[bytes],
    fmt: str,
    name: str,
    mapper: QueueLogMapper,
    first_line: int,
    counts: Counts,
) -> None:
    for item in read_lines(lines, fmt, name, mapper, first_line):
        if isinstance(item, Accepted):
            await producer.send_routed(item.event, item.raw or to_json_line(item.event))
            counts.sent += 1
        elif isinstance(item, Ignored):
            counts.ignored[item.type] += 1
        else:
            counts.bad += 1
            if counts.bad <= SHOW_INVALID:
                print(f"not sent: {item.where}: {item.reason}: {item.detail}", file=sys.stderr)
            elif counts.bad == SHOW_INVALID + 1:
                print("not sent: more invalid lines, counted but not listed", file=sys.stderr)


async def _batches(path: Path, follow: bool, stop: StopRequest) -> AsyncIterator[list[bytes]]:
    """Complete lines of the file, in batches; with ``follow``, until a stop is requested."""
    followed = FollowedFile(path)
    try:
        while not stop.requested:
            lines = followed.take()
            if lines:
                yield lines
            elif not follow:
                if followed.pending.strip():
                    yield [followed.pending]
                return
            else:
                await stop.wait(POLL_SECONDS)
    finally:
        followed.close()


class FollowedFile:
    """A file read as it grows, like ``tail -F``: across truncation and rotation.

    The open file is read to its end before a rotated-in file (a new inode at the path) is
    opened, so lines written just before logrotate renamed it are not lost; the new file is
    read from its start, and a file truncated in place (copytruncate) is read again from its
    start. Nothing is read twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending = b""  # the start of a line whose end has not been written yet
        self._handle: BinaryIO | None = None
        self._inode: int | None = None

    def take(self) -> list[bytes]:
        """The complete lines written since the last call."""
        lines = self._read()
        if self._replaced():
            if self.pending.strip():
                lines.append(self.pending)  # the old file's last line: it will not grow any more
            self._reopen()
            lines += self._read()
        return lines

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def _read(self) -> list[bytes]:
        if self._handle is None:
            return []
        *complete, self.pending = (self.pending + self._handle.read()).split(b"\n")
        return complete

    def _replaced(self) -> bool:
        """Whether the path now holds another file than the open one, or a shorter one."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False  # rotated away and not there again yet: keep reading the old one
        if self._handle is None or stat.st_ino != self._inode:
            return True
        return stat.st_size < self._handle.tell()

    def _reopen(self) -> None:
        self.close()
        self._handle = self.path.open("rb")
        self._inode, self.pending = os.fstat(self._handle.fileno()).st_ino, b""
