"""What the worker does with each Kafka message, free of faust so it can be tested alone.

The worker feeds each fetch's raw messages here (``handle_batch``), stores what comes back
in tables and sends the outgoing messages to topics. Three steps, each keyed as docs/architecture.md shows:

- :class:`CallProcessor` (key = call id): decode, fold into the call's record, emit the
  call's visit to each queue it touched.
- :class:`AgentProcessor` (key = agent id): decode, fold into the agent's history, emit it
  to each queue the agent serves or served.
- :class:`QueueRegistry` (key = queue): apply visits and agents to the queues this worker
  owns; a snapshot of them is what ``/metrics`` shows.

Messages to the queue step are full state, not deltas, so applying one twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

import orjson

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.cold import ColdStore, InMemoryCold, Row
from metrics.events import AGENT_TYPES, CALL_TYPES, Event
from metrics.packing import COLD_AFTER_US, last_us_of, packed_last_us
from metrics.pipeline import PipelineStats
from metrics.queue_state import QueueState, keep_visit_us
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import QueueSnapshot
from metrics.visits import Visit
from stream.decode import Rejection, decode
from stream.rejection_record import rejection_record

SEPARATOR = "\x1f"  # between queue and call or agent id in queue-side table keys
MAX_QUEUE_MESSAGE_BYTES = 256 * 1024  # a quarter of the producer's and Kafka's default limit
State = TypeVar("State", CallRecord, AgentHistory)
Token = TypeVar("Token")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: to the ``rejected`` topic or the internal ``queues`` topic."""

    destination: str
    key: bytes | None
    value: bytes


def batch_messages(kind: str, states: list[Visit | AgentHistory]) -> list[bytes]:
    """Messages to a queue with every visit (``kind="visits"``) or agent (``"agents"``) for it.

    Usually one; halved until each fits in :data:`MAX_QUEUE_MESSAGE_BYTES`, so that a batch
    with thousands of calls of one queue never makes a message Kafka refuses (each message
    carries full states, so a queue applies the parts as it would the whole).
    """
    message = orjson.dumps([kind, [state.to_json() for state in states]])
    if len(message) <= MAX_QUEUE_MESSAGE_BYTES or len(states) == 1:
        return [message]
    half = len(states) // 2
    return batch_messages(kind, states[:half]) + batch_messages(kind, states[half:])


@dataclass(frozen=True, slots=True)
class Incoming(Generic[Token]):
    """One Kafka message; ``token`` is whatever the caller needs to store its state later."""

    key: bytes | None
    raw: bytes
    origin: dict[str, Any]
    token: Token


class Tidied(NamedTuple):
    """What a table's tidying found: entities to let go, and packed records for the cold store."""

    stale: list[str]
    packed: list[Row]


@dataclass
class Batch(Generic[State, Token]):
    """What a batch of messages leads to: messages to send and table entries to store.

    Each entry to store carries the token of a message with the same key, so the caller can
    write it in that message's context (faust takes the changelog partition from it).
    """

    outgoing: list[Outgoing] = field(default_factory=list)
    writes: dict[str, tuple[State, Token]] = field(default_factory=dict)
    touched: dict[str, set[str]] = field(default_factory=dict)  # entity -> queues to tell


class _Step(Generic[State]):
    """Shared by both steps: decode, check topic, key and time, count; then fold."""

    kinds: frozenset[str]
    what: str  # "call" or "agent", for messages
    queue_kind: str  # what the queue messages carry: "visits" or "agents"

    def __init__(self, settings: Settings, stats: PipelineStats) -> None:
        self.settings = settings
        self.stats = stats
        limits = settings.limits
        self._max_age_us = limits.max_call_age_us if self.what == "call" else limits.max_agent_age_us
        self._forget_after_us = (
            limits.forget_call_after_us if self.what == "call" else limits.forget_agent_after_us
        )

    def handle_batch(
        self, messages: list[Incoming[Token]], table: Mapping[str, State | bytes], now_us: int
    ) -> Batch[State, Token]:
        """Process messages in order; the caller stores ``writes`` and sends ``outgoing``.

        Each entity's state is stored once and each queue gets one message per batch,
        however many of the batch's events touched them.
        """
        batch: Batch[State, Token] = Batch()
        for message in messages:
            try:
                decoded = self._decode(message.key, message.raw, now_us)
            except Rejection as rejection:
                self.stats.rejected(rejection.reason)
                batch.outgoing.append(_rejected(rejection, message))
                continue
            if decoded is not None:
                self._fold(*decoded, message.token, table, batch, now_us)
        batch.outgoing += self._to_queues(table, batch)
        return batch

    def _fold(
        self,
        event: Event,
        unknown_fields: int,
        token: Token,
        table: Mapping[str, State | bytes],
        batch: Batch[State, Token],
        now_us: int,
    ) -> None:
        raise NotImplementedError

    def _for_queue(self, state: State, queue: str) -> Visit | AgentHistory:
        """What a queue is told of the entity."""
        raise NotImplementedError

    def _last_us(self, stored: State | bytes) -> int:
        """Event time of the entity's newest event."""
        raise NotImplementedError

    def _hot(self, entity: str, stored: State | bytes) -> State:
        """The state, unpacked if it was kept packed."""
        raise NotImplementedError

    def _pack(self, stored: State | bytes) -> bytes | None:
        """The state packed; ``None`` if it is not packed (already, or never for its kind)."""
        return None

    def tidy(self, table: Mapping[str, State | bytes], candidates: Iterable[str], now_us: int) -> Tidied:
        """Entities among ``candidates`` silent long enough to let go, and states to pack.

        Calls go ``forget_call_after`` past their newest event, agents ``forget_agent_after``;
        a call record with no event for ``COLD_AFTER_US`` is packed, with the time it expires
        (the caller moves it to its cold store: the same content, nothing to send).
        """
        oldest, cold = now_us - self._forget_after_us, now_us - COLD_AFTER_US
        stale, packed = [], []
        for entity in candidates:
            stored = table.get(entity)
            if stored is None:
                continue
            last_us = self._last_us(stored)
            if last_us < oldest:
                stale.append(entity)
            elif last_us < cold and (data := self._pack(stored)) is not None:
                packed.append((entity, last_us + self._forget_after_us, data))
        return Tidied(stale, packed)

    def expiry(self, data: bytes) -> int:
        """When a packed state expires: as :meth:`tidy` would let it go."""
        return packed_last_us(data) + self._forget_after_us

    def _to_queues(self, table: Mapping[str, State | bytes], batch: Batch[State, Any]) -> list[Outgoing]:
        """One message per queue, with everything the batch has to tell it."""
        by_queue: dict[str, list[Visit | AgentHistory]] = {}
        for entity, queues in batch.touched.items():
            stored = _current(entity, table, batch)
            assert stored is not None
            state = self._hot(entity, stored)
            for queue in queues:
                by_queue.setdefault(queue, []).append(self._for_queue(state, queue))
        return [
            Outgoing("queues", q.encode(), message)
            for q in sorted(by_queue)
            for message in batch_messages(self.queue_kind, by_queue[q])
        ]

    def _decode(self, key: bytes | None, raw: bytes, now_us: int) -> tuple[Event, int] | None:
        """The event and its count of unknown fields; ``None`` for an unknown type."""
        decoded = decode(raw)
        if decoded.event is None:
            self.stats.ignored("unknown_type")
            return None
        event = decoded.event
        if event.type not in self.kinds:
            raise Rejection("wrong_topic", f"{event.type} does not belong on this topic")
        entity = event.agent_id if event.type == "agent.state" else event.call_id
        if key is None:
            raise Rejection("missing_key", f"a {self.what} event needs its {self.what} id as the Kafka key")
        if key.decode("utf-8", "replace") != entity:
            raise Rejection("key_mismatch", "the Kafka key must be the call id (calls) or agent id (agents)")
        if event.time_us > now_us + self.settings.limits.max_clock_skew_us:
            raise Rejection("too_early", "timed further ahead of now than max_clock_skew allows")
        if event.time_us < now_us - self._max_age_us:
            raise Rejection(
                "too_late", f"older than max_{self.what}_age: the {self.what} may already be let go"
            )
        return event, decoded.unknown_fields


def _rejected(rejection: Rejection, message: Incoming[Any]) -> Outgoing:
    """The message for ``callcenter.rejected``: reason, detail, origin, a bounded payload prefix."""
    key, value = rejection_record(
        rejection.reason, rejection.detail, message.key, message.raw, message.origin
    )
    return Outgoing("rejected", key, value)


def _current(
    entity: str, table: Mapping[str, State | bytes], batch: Batch[State, Any]
) -> State | bytes | None:
    """The entity's state: as this batch left it, else as stored."""
    written = batch.writes.get(entity)
    return written[0] if written is not None else table.get(entity)


class CallProcessor(_Step[CallRecord]):
    """Per-call step. The table is the call table (call id -> :class:`CallRecord`)."""

    kinds = CALL_TYPES
    what = "call"
    queue_kind = "visits"

    def _fold(
        self,
        event: Event,
        unknown_fields: int,
        token: Token,
        records: Mapping[str, CallRecord | bytes],
        batch: Batch[CallRecord, Token],
        now_us: int,
    ) -> None:
        call_id = event.call_id
        assert call_id is not None
        stored = _current(call_id, records, batch)
        record = CallRecord(call_id) if stored is None else self._hot(call_id, stored)
        changed = record.apply(event)
        if changed is None:
            self.stats.duplicate()
            changed = tuple(record.queues())  # re-send: a crash may have lost the first send
        else:
            self.stats.accepted(event.type, event.time_us, unknown_fields)
            batch.writes[call_id] = (record, token)
        batch.touched.setdefault(call_id, set()).update(changed)

    def _for_queue(self, record: CallRecord, queue: str) -> Visit:
        return record.visit(queue)

    def _last_us(self, stored: CallRecord | bytes) -> int:
        return last_us_of(stored)

    def _hot(self, call_id: str, stored: CallRecord | bytes) -> CallRecord:
        return CallRecord.unpack(call_id, stored) if isinstance(stored, bytes) else stored

    def _pack(self, stored: CallRecord | bytes) -> bytes | None:
        return None if isinstance(stored, bytes) else stored.pack()


class AgentProcessor(_Step[AgentHistory]):
    """Per-agent step. The table is the agent table (agent id -> :class:`AgentHistory`)."""

    kinds = AGENT_TYPES
    what = "agent"
    queue_kind = "agents"

    def _fold(
        self,
        event: Event,
        unknown_fields: int,
        token: Token,
        histories: Mapping[str, AgentHistory | bytes],
        batch: Batch[AgentHistory, Token],
        now_us: int,
    ) -> None:
        agent_id = event.agent_id
        assert agent_id is not None
        stored = _current(agent_id, histories, batch)
        history = AgentHistory(agent_id) if stored is None else self._hot(agent_id, stored)
        if history.add(event):
            self.stats.accepted(event.type, event.time_us, unknown_fields)
            history.forget_before(now_us)
            batch.writes[agent_id] = (history, token)
        else:
            self.stats.duplicate()
        batch.touched.setdefault(agent_id, set()).update(history.all_queues())  # old queues must hear it left

    def _for_queue(self, history: AgentHistory, queue: str) -> AgentHistory:
        return history

    def _last_us(self, stored: AgentHistory | bytes) -> int:
        history = self._hot("", stored)
        return history.changes[-1][0] if history.changes else 0

    def _hot(self, agent_id: str, stored: AgentHistory | bytes) -> AgentHistory:
        assert not isinstance(stored, bytes), "agent histories are never packed"
        return stored


@dataclass
class QueuesTidied:
    """Table keys (queue, separator, id) whose state a partition's queues let go or made cold.

    The caller deletes the let-go keys, drops the cold ones from its visits table (the
    registry's cold store has them now), and stores the new settled sums of queues that
    let visits go.
    """

    visits_let_go: list[str] = field(default_factory=list)
    agents_let_go: list[str] = field(default_factory=list)
    visits_cold: list[str] = field(default_factory=list)
    settled: dict[str, Settled] = field(default_factory=dict)


def visit_key(queue: str, call_id: str) -> str:
    return f"{queue}{SEPARATOR}{call_id}"


class QueueRegistry:
    """The queues this worker owns, by partition of the internal queue topic.

    Quiet visits go to ``cold`` (keys as in the visits table), kept until they expire.
    """

    def __init__(self, settings: Settings, cold: ColdStore | None = None) -> None:
        self.settings = settings
        self.cold: ColdStore = InMemoryCold() if cold is None else cold
        self.states: dict[str, QueueState] = {}
        self.partition: dict[str, int] = {}
        self._keep_visit_us: dict[str, int] = {}

    def apply(self, queue: str, partition: int, value: bytes) -> list[tuple[str, Visit | AgentHistory]]:
        """Apply one queue-topic message; return the table keys and values to store."""
        kind, rows = orjson.loads(value)
        state = self._state(queue, partition)
        stored: list[tuple[str, Visit | AgentHistory]] = []
        if kind == "visits":
            for row in rows:
                visit = Visit.from_json(row)
                state.apply_visit(visit)
                stored.append((visit_key(queue, visit.call_id), visit))
        else:
            for row in rows:
                history = AgentHistory.from_json(row)
                state.apply_agent(history)
                stored.append((visit_key(queue, history.agent_id), history))
        return stored

    def expiry(self, key: str, data: bytes) -> int:
        """When a packed visit (by its table key) expires: as its queue would let it go."""
        queue = key.split(SEPARATOR, 1)[0]
        keep = self._keep_visit_us.get(queue)
        if keep is None:
            keep = self._keep_visit_us[queue] = keep_visit_us(self.settings, queue)
        return packed_last_us(data) + keep

    def rebuild(
        self,
        items: Iterable[tuple[str, Visit | AgentHistory]],
        cold: Iterable[tuple[str, bytes]],
        settled: Iterable[tuple[str, Settled]],
        partition_of: dict[str, int],
        now_us: int,
    ) -> None:
        """Recreate owned queues after recovery (``partition_of``: queue to partition).

        From their settled sums, the ``cold`` store's rows, then the hot ``items`` (visits
        and agents), which replace their cold copies. Windows start at ``now_us`` first, as a running
        worker's are: hours of contributions too old for any window then go straight into
        the sums instead of into buckets that the first snapshot would drop. (Those buckets,
        made and dropped in their millions, left a restarted worker's heap full of holes.)
        """
        for queue, sums in settled:
            if queue in partition_of:
                self._state(queue, partition_of[queue]).restore_settled(sums)
        for queue, partition in partition_of.items():
            self._state(queue, partition).sums.advance(now_us)
        for key, data in cold:
            queue, call_id = key.split(SEPARATOR, 1)
            if queue in partition_of:
                self._state(queue, partition_of[queue]).restore_cold(call_id, data)
        for key, value in items:
            queue = key.split(SEPARATOR, 1)[0]
            if queue not in partition_of:
                continue
            state = self._state(queue, partition_of[queue])
            if isinstance(value, AgentHistory):
                state.apply_agent(value)
            else:
                state.apply_visit(value)

    def keep_partitions(self, owned: set[int]) -> None:
        """Drop queues whose partition this worker no longer owns (no stale series)."""
        for queue in [q for q, p in self.partition.items() if p not in owned]:
            del self.states[queue], self.partition[queue]

    def snapshot(self, now_us: int) -> tuple[QueueSnapshot, ...]:
        return tuple(self.states[q].snapshot(now_us) for q in sorted(self.states))

    def tidy(self, partition: int, now_us: int) -> QueuesTidied:
        """Let go of old state in one partition's queues, and move quiet visits to the cold store."""
        tidied = QueuesTidied()
        for queue, state in self.states.items():
            if self.partition[queue] == partition:
                self._tidy_queue(queue, state, partition, now_us, tidied)
        for key, data in self.cold.expire(partition, now_us):
            queue, call_id = key.split(SEPARATOR, 1)
            owner = self.states.get(queue)
            if owner is not None and owner.settle_cold(call_id, data, now_us):
                tidied.visits_let_go.append(key)
                tidied.settled[queue] = owner.settled
        return tidied

    def _tidy_queue(
        self, queue: str, state: QueueState, partition: int, now_us: int, tidied: QueuesTidied
    ) -> None:
        let_go = state.forget(now_us, pack_cold=True)
        gone = [visit_key(queue, call_id) for call_id in let_go.calls]
        self.cold.delete(gone)  # older copies of visits that had turned hot again
        cold = {visit_key(queue, call_id): data for call_id, data in let_go.packed.items()}
        self.cold.put(partition, [(key, self.expiry(key, data), data) for key, data in cold.items()])
        tidied.visits_let_go += gone
        tidied.agents_let_go += [visit_key(queue, agent_id) for agent_id in let_go.agents]
        tidied.visits_cold += cold
        if gone:
            tidied.settled[queue] = state.settled

    def _state(self, queue: str, partition: int) -> QueueState:
        state = self.states.get(queue)
        if state is None:
            cold_visit = partial(_cold_visit, self.cold, queue)
            state = self.states[queue] = QueueState(queue, self.settings, cold_visit)
        self.partition[queue] = partition
        return state


def _cold_visit(cold: ColdStore, queue: str, call_id: str) -> bytes | None:
    return cold.get(visit_key(queue, call_id))
