"""Where the worker's memory goes: the size of each kind of state, without Kafka or faust.

Usage::

    python -m benchmarks.state_size [--events 1000000] [--hours 3.5]

Feeds the recovery benchmark's traffic (500 queues, 5,000 agents, a million calls a day, of
the ``hours`` before now), each event written as JSON and decoded as the worker decodes it
(the simulator's events share their strings and tuples; decoded ones do not), through the
worker's steps (``metrics/steps/``, the agent board's included) in one process, in batches
as the worker takes them, with plain dicts as tables. Snapshots are taken as often as the worker
takes them, which moves the windows to now and lets their old buckets go, and tables are
looked after as often: quiet call records and visits are packed (``metrics/storage/``) and
moved to cold stores (``stream/cold_store.py``; in memory here, on disk in the worker), after
expiring what is too old: no call or visit is old enough yet, as in the first hours of a
worker (calls are kept ``2 × max_call_age``). Queue updates and the board's states go
through JSON, as over Kafka: each queue and the board hold their own copies.
Then prints the deep size of each table and of the queues' in-memory state, the size of the
cold stores' databases, and what an unpacked call record is made of.
The baseline is the whole: each part is printed as its share of the state measured.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from benchmarks.recovery import history
from metrics.callers import CallerHasher
from metrics.calls import FIELDS, CallRecord
from metrics.contract.decode import decode
from metrics.contract.events import Event
from metrics.pipeline import PipelineStats
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.steps.agent_board import AgentBoard
from metrics.steps.callers import CallerStep
from metrics.steps.clock import FixedClock
from metrics.steps.entities import AgentStep, CallStep
from metrics.steps.messages import Arrival, QueueUpdate
from metrics.steps.queues import QueueStep
from metrics.storage.cold_agent_calls import ColdAgentCalls
from metrics.storage.cold_entities import ColdCallers, ColdCalls
from metrics.storage.cold_visits import ColdVisits
from metrics.visits import Visit
from stream.board_messages import decode_board, encode_board
from stream.cold_store import SqliteCold
from stream.encode import to_json_line
from stream.queue_messages import decode_update, encode_update

BATCH = 2000
QUEUES = "queues (windows, visits, agents)"
BOARD = "board (ledgers, timelines, calls)"
CALLERS = "callers"
SNAPSHOT_EVERY = 25_000  # the worker snapshots once a second and takes about that many events a second
HOUSEKEEPING_EVERY = 250_000  # and looks after each partition every 10 seconds


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes of ``root`` and everything it holds that ``seen`` has not counted yet."""
    total, stack = 0, [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(_held(item))
    return total


def _held(item: object) -> Iterable[object]:
    if isinstance(item, dict):
        return [*item.keys(), *item.values()]
    if isinstance(item, list | tuple | set | frozenset):
        return item
    if hasattr(item, "__slots__"):
        return [getattr(item, name) for name in item.__slots__ if hasattr(item, name)]
    if hasattr(item, "__dict__") and not isinstance(item, type):
        return [vars(item)]
    return []


def cold_store(name: str) -> SqliteCold:
    """A cold store as the worker's, in memory: its size is what it would take on disk."""
    return SqliteCold(sqlite3.connect(":memory:", isolation_level=None), name)


def cold_bytes(cold: SqliteCold) -> int:
    database = cold._db
    pages: int = database.execute("PRAGMA page_count").fetchone()[0]
    return pages * int(database.execute("PRAGMA page_size").fetchone()[0])


def decoded(events: int, hours: float) -> Iterable[Event]:
    """The history's events as the worker has them: decoded from their JSON."""
    for event in history(events, hours):
        found = decode(to_json_line(event)).event
        assert found is not None, event
        yield found


def run(events: int, hours: float = 3.5) -> tuple[dict[str, dict[str, Any]], dict[str, SqliteCold]]:
    """The worker's tables, queues and cold stores after ``events`` events, built as the worker does."""
    settings, stats, now = Settings.load(None), PipelineStats(), time.time_ns() // 1000
    hasher = CallerHasher(b"state size")  # repeat calls on
    callers = CallerStep(settings)
    steps = {"call": CallStep(settings, stats, hasher), "agent": AgentStep(settings, stats), CALLERS: callers}
    tables: dict[str, dict[str, Any]] = {
        "calls": {},
        "agents": {},
        "visits": {},
        "queue agents": {},
        CALLERS: {},
    }
    colds = {name: cold_store(name) for name in ("calls", "visits", CALLERS, "agent_calls")}
    cold_calls = ColdCalls(colds["calls"], settings.limits.expire_call_after_us)
    cold_callers = ColdCallers(colds[CALLERS], callers.keep_us)
    queues = QueueStep(settings, ColdVisits(colds["visits"], settings))
    board = AgentBoard(settings, ColdAgentCalls(colds["agent_calls"], settings))
    batch: dict[str, list[Arrival[int]]] = {"call": [], "agent": []}
    for number, event in enumerate(decoded(events, hours), start=1):
        batch["agent" if event.type == "agent.state" else "call"].append(Arrival(event, 0, 0))
        if number % BATCH == 0:
            _handle(steps, batch, tables, (cold_calls, cold_callers), (queues, board), now)
        if number % SNAPSHOT_EVERY == 0:  # as the worker's timers do: windows move to now, old buckets go
            queues.snapshot(now)
            board.snapshot(now)
        if number % HOUSEKEEPING_EVERY == 0:
            _housekeeping(tables, (cold_calls, cold_callers), (queues, board), now)
    _handle(steps, batch, tables, (cold_calls, cold_callers), (queues, board), now)
    queues.snapshot(now)
    board.snapshot(now)
    _housekeeping(tables, (cold_calls, cold_callers), (queues, board), now)
    return {**tables, QUEUES: queues.states, BOARD: board.ledgers}, colds


def _housekeeping(
    tables: dict[str, dict[str, Any]],
    colds: tuple[ColdCalls, ColdCallers],
    steps: tuple[QueueStep, AgentBoard],
    now: int,
) -> None:
    """As the worker's housekeeping does: expire, then quiet records, callers, visits and
    agents' calls go cold."""
    queues, board = steps
    colds[0].pack_quiet(tables["calls"], list(tables["calls"]), 0, now)
    colds[1].pack_quiet(tables[CALLERS], list(tables[CALLERS]), 0, now)
    for partition in set(queues.partition.values()):
        expired = queues.expire(partition, now)
        for key in expired.visits:
            tables["visits"].pop(key, None)
        for key in expired.agents:
            tables["queue agents"].pop(key, None)
        for key in queues.pack(partition, now):
            del tables["visits"][key]
    board.expire(0, now)
    board.pack(0, now)


def _handle(
    steps: dict[str, Any],
    batch: dict[str, list[Arrival[int]]],
    tables: dict[str, dict[str, Any]],
    colds: tuple[ColdCalls, ColdCallers],
    receivers: tuple[QueueStep, AgentBoard],
    now: int,
) -> None:
    reading = FixedClock(now).reading()
    queues, board = receivers
    for kind, arrivals in batch.items():
        table = tables["calls" if kind == "call" else "agents"]
        stored = colds[0].behind(table) if kind == "call" else table
        output = steps[kind].fold(arrivals, stored, reading)
        table.update({key: state for key, (state, _) in output.writes.items()})
        updates = output.updates
        if output.callers:  # through the callers step, as over its topic
            told = steps[CALLERS].fold(output.callers, colds[1].behind(tables[CALLERS]), reading)
            tables[CALLERS].update({key: history for key, (history, _) in told.writes.items()})
            updates += told.updates
        for update in updates:  # through JSON as over Kafka: each queue holds its own copies
            for key, value in _over_kafka(update, queues):
                tables["visits" if isinstance(value, Visit) else "queue agents"][key] = value
        for message in encode_board(output.board):  # and the board its own
            for state in decode_board(message):
                board.apply(state, 0)
        arrivals.clear()


def _over_kafka(update: QueueUpdate, queues: QueueStep) -> list[tuple[str, Any]]:
    stored: list[tuple[str, Any]] = []
    for value in encode_update(update):
        stored += queues.apply(decode_update(update.queue, value), 0)
    return stored


def call_record_parts(records: Iterable[CallRecord]) -> Counter[str]:
    """Bytes of each part of the call records, summed (strings counted where they are held)."""
    parts: Counter[str] = Counter()
    for record in records:
        parts["the object"] += sys.getsizeof(record)
        parts["event ids"] += sys.getsizeof(record.event_ids) + sum(map(sys.getsizeof, record.event_ids))
        for name in FIELDS:
            facts = getattr(record, name)
            parts["fact holders"] += sys.getsizeof(facts)
            parts["facts"] += sum(sys.getsizeof(fact) for fact in facts)
    return parts


def queue_state_parts(states: dict[str, QueueState]) -> dict[str, list[object]]:
    """The pieces of every queue's state, by kind."""
    return {
        "window buckets and sums": [q.sums for q in states.values()],
        "visits by call": [q.visits for q in states.values()],
        "waiting calls": [q._waiting for q in states.values()],
        "agents by id": [q.agents for q in states.values()],
        "settled sums": [q.settled for q in states.values()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hours", type=float, default=3.5, help="of traffic, up to now")
    args = parser.parse_args(argv)
    print(f"building the state of {args.events:,} events ...", flush=True)
    state, colds = run(args.events, args.hours)
    seen: set[int] = set()
    sizes = {name: deep_size(part, seen) for name, part in state.items() if name != QUEUES}
    queue_parts = {name: deep_size(parts, seen) for name, parts in queue_state_parts(state[QUEUES]).items()}
    sizes[QUEUES] = sum(queue_parts.values()) + deep_size(state[QUEUES], seen)
    counts = {name: len(part) for name, part in state.items()}
    for name, cold in colds.items():
        sizes[f"cold {name} (SQLite, on disk)"] = cold_bytes(cold)
        counts[f"cold {name} (SQLite, on disk)"] = len(cold)
    whole = sum(sizes.values())
    print(f"{'':34}{'entries':>10}{'MB':>9}{'share':>8}")
    for name, size in sizes.items():
        print(f"{name:34}{counts[name]:>10,}{size / 2**20:>9.1f}{size / whole:>8.0%}")
    print("the queues' own state (what the tables above do not hold), of which:")
    for name, size in queue_parts.items():
        print(f"  {name:32}{size / 2**20:>8.1f} MB")
    records = [r for r in state["calls"].values() if isinstance(r, CallRecord)]
    packed = [len(data) for _, data in colds["calls"].items()]
    print(
        f"call records packed: {len(packed):,}, {sum(packed) / max(1, len(packed)):,.0f} bytes of data each"
    )
    callers = [len(data) for _, data in colds[CALLERS].items()]
    each, disk = sum(callers) / max(1, len(callers)), sizes[f"cold {CALLERS} (SQLite, on disk)"]
    print(f"caller histories packed: {len(callers):,}, {each:,.0f} bytes of data each", end="")
    print(f"; on disk {disk / max(1, len(callers)):,.0f} bytes each")
    if records:
        print(f"call records as objects: {len(records):,}, of which on average (bytes):")
    for part, size in call_record_parts(records).most_common():
        print(f"  {part:32}{size / max(1, len(records)):>8,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
