"""``ccmetrics publish FILE --format ... [--follow]``: an event file onto Kafka.

CloudEvents lines are sent as they are (unknown fields kept); queue_log lines are mapped to
contract events first. Invalid lines are reported with their line number and not sent.
With ``--follow`` the file is read like ``tail -f``: new lines are sent as they are written,
a partial last line waits for its newline, and a truncated or replaced file is read again
from its start (event ids are stable, so re-sent events are dropped as duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from stream.deploy import Deployment
from stream.encode import to_json_line
from stream.kafka_out import EventProducer
from stream.queue_log import QueueLogMapper
from stream.sources import FORMATS, Accepted, Ignored, read_lines

POLL_SECONDS = 0.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", choices=FORMATS, default="cloudevents")
    parser.add_argument("--follow", action="store_true", help="keep sending lines as the file grows")
    parser.set_defaults(run=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    if not args.file.exists() and not args.follow:
        print(f"ccmetrics publish: no such file: {args.file}", file=sys.stderr)
        return 2
    return asyncio.run(publish(args.file, args.format, args.follow, Deployment.from_env(os.environ)))


async def publish(path: Path, fmt: str, follow: bool, deployment: Deployment) -> int:
    """Send the file's events; return 1 if any line was invalid, else 0."""
    sent = bad = 0
    mapper, next_line = QueueLogMapper(), 1
    async with EventProducer(deployment) as producer:
        async for lines in _batches(path, follow):
            for item in read_lines(lines, fmt, str(path), mapper, next_line):
                if isinstance(item, Accepted):
                    value = item.raw or to_json_line(item.event)
                    await producer.send_routed(item.event, value)
                    sent += 1
                elif not isinstance(item, Ignored):
                    bad += 1
                    print(f"not sent: {item.where}: {item.reason}: {item.detail}", file=sys.stderr)
            next_line += len(lines)
            await producer.flush()
    print(
        f"published {sent} events from {path}" + (f", {bad} invalid lines not sent" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0


async def _batches(path: Path, follow: bool) -> AsyncIterator[list[bytes]]:
    """Complete lines of the file, in batches; with ``follow``, forever."""
    position, inode, pending = 0, None, b""
    while True:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_ino != inode or stat.st_size < position):
            position, inode, pending = 0, stat.st_ino, b""  # new or truncated file: from its start
        if stat is not None and stat.st_size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
            position += len(chunk)
            *complete, pending = (pending + chunk).split(b"\n")
            if complete:
                yield complete
        elif not follow:
            if pending.strip():
                yield [pending]
            return
        else:
            await asyncio.sleep(POLL_SECONDS)
