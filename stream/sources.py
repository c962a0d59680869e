"""Reading event files: CloudEvents JSON lines or an Asterisk queue_log.

Each line becomes :class:`Accepted` events, an :class:`Ignored` unknown type, or a
:class:`Rejected` line with its reason; nothing is dropped without a trace. Usage::

    for item in read_files([Path("events.jsonl")], "cloudevents"):
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from metrics.contract.decode import decode
from metrics.contract.events import Event, Rejection
from stream.problems import UsageProblem
from stream.progress import Progress
from stream.queue_log import QueueLogMapper

FORMATS = ("cloudevents", "asterisk-queue-log")
NOTHING_TO_MEASURE = "nothing_to_measure"  # a known queue_log verb ignored on purpose (docs/asterisk.md)


class Accepted(NamedTuple):
    event: Event
    unknown_fields: int = 0
    raw: bytes = b""  # the original line, for CloudEvents input


class Ignored(NamedTuple):
    """An event of an unknown type, or a queue_log line with nothing to measure (by its verb)."""

    type: str
    reason: str = "unknown_type"  # or NOTHING_TO_MEASURE


class Rejected(NamedTuple):
    reason: str
    detail: str
    where: str
    raw: bytes


Item = Accepted | Ignored | Rejected
_new = tuple.__new__


def read_lines(
    lines: Iterable[bytes], fmt: str, name: str, mapper: QueueLogMapper | None = None, first_line: int = 1
) -> Iterator[Item]:
    """Decode lines of one file (``name`` and line numbers are used in rejection messages).

    Pass the same ``mapper`` to read one queue_log in several pieces.
    """
    numbered = enumerate(lines, start=first_line)
    if fmt == "cloudevents":
        return _read_cloudevents(numbered, name)  # not through another generator: once per event
    return _read_queue_log(numbered, name, mapper or QueueLogMapper())


def _read_queue_log(
    numbered: Iterable[tuple[int, bytes]], name: str, mapper: QueueLogMapper
) -> Iterator[Item]:
    for number, raw in numbered:
        line = raw.strip()
        if not line:
            continue
        try:
            yield from _map_queue_log_line(line, mapper)
        except Rejection as rejection:
            yield Rejected(rejection.reason, rejection.detail, f"{name}:{number}", line)


def _read_cloudevents(numbered: Iterable[tuple[int, bytes]], name: str) -> Iterator[Item]:
    for number, raw in numbered:
        line = raw.strip()
        if not line:
            continue
        try:
            decoded = decode(line)
        except Rejection as rejection:
            yield Rejected(rejection.reason, rejection.detail, f"{name}:{number}", line)
            continue
        event = decoded.event
        # tuple.__new__: half the time of calling the named tuple's class, once per event
        yield (
            Ignored(decoded.type) if event is None else _new(Accepted, (event, decoded.unknown_fields, line))
        )


def check_readable(path: Path) -> None:
    """Raise :class:`UsageProblem` unless ``path`` is a file (not a folder) that can be opened."""
    if path.is_dir():
        raise UsageProblem(f"{path} is a directory, not an event file")
    if not path.exists():
        raise UsageProblem(f"no such file: {path}")
    try:
        path.open("rb").close()
    except OSError as error:
        raise UsageProblem(f"cannot read {path}: {error.strerror}") from None


def read_files(
    paths: Iterable[Path], fmt: str, progress: Progress | None = None, mapper: QueueLogMapper | None = None
) -> Iterator[Item]:
    """Decode every line of every file, in order, reporting bytes read to ``progress``
    (``mapper``: the queue_log mapper to read them with, e.g. with ``[asterisk] members``)."""
    for path in paths:
        with path.open("rb") as handle:
            lines = progress.counting(handle) if progress else handle
            yield from read_lines(lines, fmt, str(path), mapper)


def _map_queue_log_line(line: bytes, mapper: QueueLogMapper) -> Iterator[Item]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection("bad_encoding", "not UTF-8") from None
    events = mapper.map_line(text)
    if events is None:
        yield Ignored(text.lstrip("\x00").split("|")[4])
    elif not events:
        yield Ignored(text.lstrip("\x00").split("|")[4], NOTHING_TO_MEASURE)
    else:
        yield from (Accepted(event) for event in events)
