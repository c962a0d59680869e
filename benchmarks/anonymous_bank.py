"""The Technion "Anonymous Bank" call log (February 1999) as contract events, and a check.

Not needed by the tests; the data stays outside the project (../shared/data). Usage::

    python -m benchmarks.anonymous_bank convert ../shared/data/anonymous-bank/february-1999.tsv bank.jsonl
    python -m benchmarks.anonymous_bank validate ../shared/data/anonymous-bank/february-1999.tsv bank.jsonl

Mapping (queue = service type): a row that queued (q_start set) is ``call.queued`` at
q_start, then ``call.answered`` at q_exit by ``server`` (AGENT) or ``call.abandoned`` at
q_exit (HANG), and ``call.ended`` at ser_exit. Exits are q_start + q_time and ser_start +
ser_time: in a few rows the exit clock reads earlier than the start. A row routed straight
to an agent (no queue) is queued and answered at ser_start (a wait of 0). PHANTOM rows
and rows that hung up in the voice menu are left out. Times are Israel local time, UTC+02:00 in February.

``validate`` recounts each day's KPIs straight from the table rows, without the engine,
and compares them with the engine's ``today`` window at 23:59:59 of that day.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.settings import QueueSettings, Settings
from metrics.snapshot import WindowValues
from stream.encode import to_json_line
from stream.sources import Accepted, read_files

ISRAEL = timezone(timedelta(hours=2))
US = 1_000_000
THRESHOLD_S, SHORT_S = 20, 5
SETTINGS = Settings(defaults=QueueSettings(timezone="Asia/Jerusalem", windows=("1h",)))


@dataclass(frozen=True)
class Call:
    """One row, with times as aware datetimes (None where the row has none)."""

    call_id: str
    queue: str
    outcome: str
    server: str
    queued: datetime | None
    left_queue: datetime | None
    served: datetime | None
    service_end: datetime | None


def _moment(day: date, text: str, after: datetime | None = None) -> datetime | None:
    if text in ("0:00:00", "00:00:00", ""):
        return None
    hours, minutes, seconds = (int(x) for x in text.split(":"))
    moment = datetime(day.year, day.month, day.day, hours, minutes, seconds, tzinfo=ISRAEL)
    if after is not None and moment < after - timedelta(hours=12):
        moment += timedelta(days=1)  # the row crossed midnight (a few rows' clocks differ by seconds)
    return moment


def read_calls(path: Path) -> Iterator[Call]:
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["outcome"] == "PHANTOM":
                continue
            day = datetime.strptime(row["date"], "%y%m%d").date()
            entry = _moment(day, row["vru_entry"])
            queued = _moment(day, row["q_start"], entry)
            served = _moment(day, row["ser_start"], queued or entry)
            # Durations come from q_time and ser_time: a few rows' exit clocks run backwards.
            left = queued + timedelta(seconds=int(row["q_time"])) if queued else None
            end = served + timedelta(seconds=int(row["ser_time"])) if served else None
            call_id = f"{row['vru+line']}-{row['call_id']}"
            yield Call(call_id, row["type"], row["outcome"], row["server"], queued, left, served, end)


def to_events(call: Call) -> list[Event]:
    """The contract events of one row (see the module docstring)."""
    ids = (f"{call.call_id}-{n}" for n in range(4))
    agent = call.server if call.server != "NO_SERVER" else "unassigned"

    def event(kind: str, at: datetime, **fields: object) -> Event:
        return Event(
            next(ids),
            kind,
            int(at.timestamp()) * US,
            "anonymous-bank",
            call_id=call.call_id,
            **fields,  # type: ignore[arg-type]
        )

    queued = call.queued or (call.served if call.outcome == "AGENT" else None)
    answered_at = call.left_queue if call.queued else call.served
    if queued is None:
        return []
    events = [event("call.queued", queued, queue=call.queue)]
    if call.outcome == "HANG" and call.left_queue:
        events.append(event("call.abandoned", call.left_queue, queue=call.queue))
    if call.outcome == "AGENT" and answered_at:
        events.append(event("call.answered", answered_at, queue=call.queue, agent_id=agent))
        if call.service_end:
            events.append(event("call.ended", max(call.service_end, answered_at), agent_id=agent))
    return events


def convert(table: Path, output: Path) -> int:
    events = sorted((e for call in read_calls(table) for e in to_events(call)), key=lambda e: e.time_us)
    with output.open("wb") as out:
        for event in events:
            out.write(to_json_line(event) + b"\n")
    return len(events)


def expected_by_day(table: Path) -> dict[tuple[date, str], dict[str, float]]:
    """Each day's KPIs per queue, counted straight from the rows."""
    found: dict[tuple[date, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(at: datetime, queue: str, name: str, value: float = 1) -> None:
        found[(at.date(), queue)][name] += value

    for call in read_calls(table):
        queued = call.queued or (call.served if call.outcome == "AGENT" else None)
        if queued is None:
            continue
        add(queued, call.queue, "offered")
        out = call.left_queue if call.queued else call.served
        if out is None:
            continue
        wait = (out - queued).total_seconds()
        if call.outcome == "AGENT":
            add(out, call.queue, "answered")
            add(out, call.queue, "wait", wait)
            if call.service_end:
                add(max(call.service_end, out), call.queue, "handled")
                add(
                    max(call.service_end, out),
                    call.queue,
                    "handle",
                    (max(call.service_end, out) - out).total_seconds(),
                )
        else:
            add(out, call.queue, "abandoned" if wait >= SHORT_S else "short_abandoned")
        if call.outcome == "AGENT" and wait <= THRESHOLD_S:
            add(out, call.queue, "sl_counted")
            add(out, call.queue, "sl_met")
        elif call.outcome == "HANG" and SHORT_S <= wait <= THRESHOLD_S:
            add(out, call.queue, "sl_counted")
        elif wait > THRESHOLD_S:
            add(queued + timedelta(seconds=THRESHOLD_S), call.queue, "sl_counted")
    return found


def engine_by_day(events: Path) -> dict[tuple[date, str], WindowValues]:
    """The engine's ``today`` for each queue at 23:59:59 local of each day, fed in time order."""
    engine, results = Engine(SETTINGS), {}
    day_end: datetime | None = None
    for item in read_files([events], "cloudevents"):
        assert isinstance(item, Accepted), item
        moment = datetime.fromtimestamp(item.event.time_us // US, ISRAEL)
        while day_end is not None and moment > day_end:
            results.update(_today(engine, day_end))
            day_end += timedelta(days=1)
        day_end = day_end or datetime.combine(moment.date(), datetime.max.time(), ISRAEL).replace(
            microsecond=0
        )
        engine.apply(item.event)
    if day_end is not None:
        results.update(_today(engine, day_end))
    return results


def _today(engine: Engine, day_end: datetime) -> dict[tuple[date, str], WindowValues]:
    snapshot = engine.snapshot(int(day_end.timestamp()) * US)
    return {(day_end.date(), q.queue): q.windows["today"] for q in snapshot.queues}


def compare(table: Path, events: Path) -> tuple[int, list[str]]:
    want, got = expected_by_day(table), engine_by_day(events)
    checks, problems = 0, []
    for key, counts in sorted(want.items()):
        values = got.get(key)
        pairs = _pairs(counts, values)
        for name, (mine, theirs) in pairs.items():
            checks += 1
            if mine is None and theirs is None:
                continue
            if mine is None or theirs is None or abs(mine - theirs) > 1e-9:
                problems.append(f"{key[0]} {key[1]} {name}: engine {mine}, recount {theirs}")
    return checks, problems


def _pairs(
    counts: dict[str, float], values: WindowValues | None
) -> dict[str, tuple[float | None, float | None]]:
    def ratio(a: str, b: str) -> float | None:
        return counts[a] / counts[b] if counts[b] else None

    abandons = counts["answered"] + counts["abandoned"]
    recount = {
        "offered": counts["offered"],
        "answered": counts["answered"],
        "abandoned": counts["abandoned"],
        "short_abandoned": counts["short_abandoned"],
        "service_level_counted": counts["sl_counted"],
        "service_level_ratio": ratio("sl_met", "sl_counted"),
        "answer_speed_seconds": ratio("wait", "answered"),
        "abandon_ratio": counts["abandoned"] / abandons if abandons else None,
        "handle_time_seconds": ratio("handle", "handled"),
    }
    if values is None:
        return {name: (None, theirs) for name, theirs in recount.items()}
    engine = {
        "offered": values[0],
        "answered": values[1],
        "abandoned": values[2],
        "short_abandoned": values[3],
        "service_level_counted": values[6],
        "service_level_ratio": values.service_level_ratio,
        "answer_speed_seconds": values.answer_speed_seconds,
        "abandon_ratio": values.abandon_ratio,
        "handle_time_seconds": values.handle_time_seconds,
    }
    return {name: (engine[name], recount[name]) for name in recount}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["convert", "validate"])
    parser.add_argument("table", type=Path, help="february-1999.tsv")
    parser.add_argument("events", type=Path, help="the JSON-lines event file")
    args = parser.parse_args(argv)
    if args.command == "convert":
        print(f"wrote {convert(args.table, args.events)} events to {args.events}", file=sys.stderr)
        return 0
    checks, problems = compare(args.table, args.events)
    for problem in problems[:30]:
        print(problem)
    print(f"{checks} values compared (28 days x 6 queues x 9 KPIs), {len(problems)} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
