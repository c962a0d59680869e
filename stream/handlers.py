"""What each step does with one fetched batch of Kafka records, from records to messages.

Each handler takes the records of one fetch (:mod:`stream.faust_internals`), runs them
through its step (:mod:`metrics.steps`) at the wall clock's reading, and hands the table
entries and messages it leads to over to the producer in one go; the returned awaitable is
done when Kafka has all of them. Usage::

    calls = CallStep(settings, stats)
    housekeeping = EntityHousekeeping(calls, calls_table, defaultdict(set), cold_calls)
    handler = EntityHandler("calls", calls, calls_table, store, housekeeping, outputs)
    delivered = await handler(records)        # then: await delivered
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from metrics.agent_timeline import AgentTimeline
from metrics.callers import CallerHistory, CallerMark
from metrics.steps.agent_board import AgentBoard, BoardState
from metrics.steps.callers import CallerStep
from metrics.steps.clock import LiveClock
from metrics.steps.entities import EntityStep, State
from metrics.steps.messages import QueueUpdate, StepOutput
from metrics.steps.queues import QueueStep
from metrics.storage.cold import Lookup
from metrics.storage.cold_visits import visit_key
from metrics.visits import Visit
from stream.board_messages import decode_board, encode_board
from stream.caller_messages import decode_marks, encode_marks
from stream.direct_producer import DirectProducer, Message, table_entry
from stream.housekeeping import BoardHousekeeping, EntityHousekeeping, KeyIndex, QueueHousekeeping, Schedule
from stream.intake import Intake, Record, Rejected, rejected_record
from stream.queue_messages import decode_update, encode_update
from stream.stage_timings import StageTimings
from stream.topology import Topology


@dataclass(frozen=True)
class Outputs:
    """Where every handler's output goes: the producer, topic names, the clock, the schedule."""

    producer: DirectProducer
    rejected_topic: str
    queue_topic: str
    clock: LiveClock
    schedule: Schedule
    board_topic: str
    board_partition: Callable[[str], int]
    callers_topic: str
    caller_partition: Callable[[str], int]
    timings: StageTimings = field(default_factory=StageTimings)

    @classmethod
    def of(
        cls, topology: Topology, producer: DirectProducer, clock: LiveClock, timings: StageTimings
    ) -> Outputs:
        names = (topology.rejected.get_topic_name(), topology.queues.get_topic_name())
        board, callers = topology.board.get_topic_name(), topology.callers.get_topic_name()
        partitions = (board, topology.board_partition, callers, topology.caller_partition)
        return cls(producer, *names, clock, Schedule(), *partitions, timings)

    def begin(self, stage: str, records: list[Record]) -> float:
        """A handler starts on a batch: how long its oldest record waited (by the wall clock, as
        Kafka's timestamps are); the start (monotonic)."""
        self.timings.waited(f"{stage}_fetch", records, time.time())
        return time.monotonic()

    def housekeep(
        self, step: str, records: list[Record], run: Callable[[int, int], list[Message]]
    ) -> list[Message]:
        """Look after the partitions of ``records`` whose turn has come (timed apart: it is
        the one part of a batch's work that grows with the state held)."""
        messages: list[Message] = []
        for partition in self.schedule.due(step, records):
            started = time.monotonic()
            messages += run(partition, self.clock.now_us())
            self.timings.observe("housekeeping", time.monotonic() - started)
        return messages

    async def hand_over(self, stage: str, started: float, messages: list[Message]) -> asyncio.Future[None]:
        """The step's work is done: time it, and time the delivery of its output."""
        self.timings.observe(stage, time.monotonic() - started)
        sent = await self.producer.hand_over(messages)
        sent.add_done_callback(partial(self.timings.delivered, time.monotonic()))
        return sent

    def rejections(self, rejected: list[Rejected]) -> list[Message]:
        return [Message(self.rejected_topic, None, r.key, r.value) for r in rejected]

    def to_queues(self, updates: list[QueueUpdate]) -> list[Message]:
        return [
            Message(self.queue_topic, None, update.queue.encode(), value)
            for update in updates
            for value in encode_update(update)
        ]

    def to_board(self, states: Sequence[BoardState]) -> list[Message]:
        """The agents' states, one message per board partition (usually)."""
        by_partition = _grouped(states, lambda state: self.board_partition(state.agent_id))
        return _messages(self.board_topic, by_partition, encode_board)

    def to_callers(self, marks: list[tuple[CallerMark, Record]]) -> list[Message]:
        """Calls queued by named callers, one message per callers partition (usually)."""
        by_partition = _grouped([mark for mark, _ in marks], lambda mark: self.caller_partition(mark.caller))
        return _messages(self.callers_topic, by_partition, encode_marks)


Item = TypeVar("Item")


def _grouped(items: Iterable[Item], partition_of: Callable[[Item], int]) -> dict[int, list[Item]]:
    """Items by the partition of our own producer's partitioner they go to."""
    by_partition: dict[int, list[Item]] = {}
    for item in items:
        by_partition.setdefault(partition_of(item), []).append(item)
    return by_partition


def _messages(
    topic: str, by_partition: dict[int, list[Item]], encode: Callable[[list[Item]], list[bytes]]
) -> list[Message]:
    """Each partition's items as messages of a bounded size, sent to that partition."""
    return [
        Message(topic, partition, None, value)
        for partition, group in sorted(by_partition.items())
        for value in encode(group)
    ]


class EntityHandler(Generic[State]):
    """The calls or agents topic: intake, the entity step, its table and its housekeeping."""

    def __init__(
        self,
        name: str,
        step: EntityStep[State],
        table: Any,
        store: Lookup[State],
        housekeeping: EntityHousekeeping[State],
        outputs: Outputs,
    ) -> None:
        self.name, self.table = name, table
        self.step: EntityStep[State] = step
        self.store: Lookup[State] = store
        self.intake = Intake(step.kinds, step.what, step.stats)
        self.index: KeyIndex = housekeeping.index
        self.housekeeping: EntityHousekeeping[State] = housekeeping
        self.outputs = outputs

    async def __call__(self, records: list[Record]) -> Awaitable[None]:
        outputs = self.outputs
        started = outputs.begin(self.name, records)
        arrivals, rejected = self.intake.take(records)
        output = self.step.fold(arrivals, self.store, outputs.clock.reading())
        messages = self._entries(output) + outputs.rejections(rejected + _rejected(output))
        messages += outputs.to_queues(output.updates) + outputs.to_board(output.board)
        messages += outputs.to_callers(output.callers)
        messages += outputs.housekeep(self.name, records, self.housekeeping.run)
        return await outputs.hand_over(self.name, started, messages)

    def _entries(self, output: StepOutput[State, Record]) -> list[Message]:
        return stored(self.table, self.index, output.writes)


def stored(table: Any, index: KeyIndex, writes: Mapping[str, tuple[Any, Record]]) -> list[Message]:
    """Store each state; its changelog goes to the partition of the record it came from."""
    entries = []
    for key, (state, record) in writes.items():
        index[record.partition].add(key)
        entries.append(table_entry(table, key, state, record.partition))
    return entries


def _rejected(output: StepOutput[Any, Record]) -> list[Rejected]:
    return [rejected_record(rejection, record) for record, rejection in output.rejected]


class CallerHandler:
    """The internal callers topic: marks into the callers' histories, stored; verdicts to the queues."""

    def __init__(
        self,
        step: CallerStep,
        table: Any,
        store: Lookup[CallerHistory],
        housekeeping: EntityHousekeeping[CallerHistory],
        outputs: Outputs,
    ) -> None:
        self.step, self.table, self.store, self.outputs = step, table, store, outputs
        self.housekeeping = housekeeping
        self.index: KeyIndex = housekeeping.index

    async def __call__(self, records: list[Record]) -> Awaitable[None]:
        outputs = self.outputs
        started = outputs.begin("callers", records)
        marks = [(mark, record) for record in records for mark in decode_marks(record.value or b"[]")]
        output = self.step.fold(marks, self.store, outputs.clock.reading())
        messages = stored(self.table, self.index, output.writes) + outputs.to_queues(output.updates)
        messages += outputs.housekeep("callers", records, self.housekeeping.run)
        return await outputs.hand_over("callers", started, messages)


class QueueHandler:
    """The internal queue topic: updates into the owned queues, their visits and agents stored."""

    def __init__(
        self, queues: QueueStep, topology: Topology, housekeeping: QueueHousekeeping, outputs: Outputs
    ) -> None:
        self.queues, self.topology, self.housekeeping, self.outputs = queues, topology, housekeeping, outputs

    async def __call__(self, records: list[Record]) -> Awaitable[None]:
        started = self.outputs.begin("queues", records)
        visits: dict[str, tuple[Any, int]] = {}
        agents: dict[str, tuple[Any, int]] = {}
        for record in records:
            update = decode_update((record.key or b"").decode(), record.value or b"[]")
            for key, value in self.queues.apply(update, record.partition):
                (visits if isinstance(value, Visit) else agents)[key] = (value, record.partition)
        topology = self.topology
        messages = _table_entries(topology.visits_table, visits) + _table_entries(
            topology.queue_agents_table, agents
        )
        settled = {queue: (sums, p) for queue, sums, p in self.queues.settled_changes()}
        messages += _table_entries(topology.settled_table, settled)
        messages += self.outputs.housekeep("queues", records, self.housekeeping.run)
        self.outputs.timings.updated()
        return await self.outputs.hand_over("queues", started, messages)


def _table_entries(table: Any, writes: dict[str, tuple[Any, int]]) -> list[Message]:
    return [table_entry(table, key, value, partition) for key, (value, partition) in writes.items()]


class BoardHandler:
    """The internal board topic: agents' timelines and calls into the owned agents' ledgers, stored."""

    def __init__(
        self, board: AgentBoard, topology: Topology, housekeeping: BoardHousekeeping, outputs: Outputs
    ) -> None:
        self.board, self.topology, self.housekeeping, self.outputs = board, topology, housekeeping, outputs

    async def __call__(self, records: list[Record]) -> Awaitable[None]:
        started = self.outputs.begin("board", records)
        timelines: dict[str, tuple[Any, int]] = {}
        calls: dict[str, tuple[Any, int]] = {}
        for record in records:
            for state in decode_board(record.value or b"[]"):
                kept = self.board.apply(state, record.partition)
                if isinstance(kept, AgentTimeline):
                    timelines[kept.agent_id] = (kept, record.partition)
                else:
                    calls[visit_key(kept.agent_id, kept.call_id)] = (kept, record.partition)
        topology = self.topology
        settled = {agent: (sums, p) for agent, sums, p in self.board.settled_changes()}
        messages = _table_entries(topology.board_agents_table, timelines)
        messages += _table_entries(topology.board_calls_table, calls)
        messages += _table_entries(topology.board_settled_table, settled)
        messages += self.outputs.housekeep("board", records, self.housekeeping.run)
        return await self.outputs.hand_over("board", started, messages)
