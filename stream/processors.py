"""What the worker does with each Kafka message, free of faust so it can be tested alone.

The worker's faust agents feed raw messages here, store what these return in tables and
send the outgoing messages to topics. Three steps, each keyed as docs/architecture.md shows:

- :class:`CallProcessor` (key = call id): decode, fold into the call's record, emit the
  call's visit to each queue it touched.
- :class:`AgentProcessor` (key = agent id): decode, fold into the agent's history, emit it
  to each queue the agent serves or served.
- :class:`QueueRegistry` (key = queue): apply visits and agents to the queues this worker
  owns; a snapshot of them is what ``/metrics`` shows.

Messages to the queue step are full state, not deltas, so applying one twice is harmless.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from metrics.agents import AgentHistory
from metrics.calls import CallRecord
from metrics.events import AGENT_TYPES, CALL_TYPES, Event
from metrics.pipeline import PipelineStats
from metrics.queue_state import QueueState
from metrics.settings import Settings
from metrics.settled import Settled
from metrics.snapshot import QueueSnapshot
from metrics.visits import Visit
from stream.decode import Rejection, decode

SEPARATOR = "\x1f"
State = TypeVar(
    "State", CallRecord, AgentHistory
)  # between queue and call or agent id in queue-side table keys


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: to the ``rejected`` topic or the internal ``queues`` topic."""

    destination: str
    key: bytes | None
    value: bytes


def rejection_message(rejection: Rejection, raw: bytes, origin: dict[str, Any]) -> bytes:
    """What goes to ``callcenter.rejected``: reason, detail, where it came from, the payload."""
    try:
        payload: dict[str, str] = {"payload": raw.decode("utf-8")}
    except UnicodeDecodeError:
        payload = {"payload_base64": base64.b64encode(raw).decode()}
    return orjson.dumps({"reason": rejection.reason, "detail": rejection.detail, **origin, **payload})


def visit_message(visit: Visit) -> bytes:
    return orjson.dumps(["visit", visit.to_json()])


def agent_message(history: AgentHistory) -> bytes:
    return orjson.dumps(["agent", history.to_json()])


class _Step(Generic[State]):
    """Shared by both steps: decode, check topic, key and time, count; then fold."""

    kinds: frozenset[str]
    what: str  # "call" or "agent", for messages

    def __init__(self, settings: Settings, stats: PipelineStats) -> None:
        self.settings = settings
        self.stats = stats

    def handle(
        self,
        key: bytes | None,
        raw: bytes,
        table: MutableMapping[str, State],
        now_us: int,
        origin: dict[str, Any],
    ) -> list[Outgoing]:
        """Process one message; return what to send (to ``queues`` or ``rejected``)."""
        try:
            decoded = self._decode(key, raw, now_us)
        except Rejection as rejection:
            self.stats.rejected(rejection.reason)
            return [Outgoing("rejected", key, rejection_message(rejection, raw, origin))]
        if decoded is None:
            return []
        return self._fold(*decoded, table, now_us)

    def _fold(
        self, event: Event, unknown_fields: int, table: MutableMapping[str, State], now_us: int
    ) -> list[Outgoing]:
        raise NotImplementedError

    def _max_age_us(self) -> int:
        raise NotImplementedError

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
        if key is not None and key.decode("utf-8", "replace") != entity:
            raise Rejection("key_mismatch", "the Kafka key must be the call id (calls) or agent id (agents)")
        if event.time_us > now_us + self.settings.limits.max_clock_skew_us:
            raise Rejection("too_early", "timed further ahead of now than max_clock_skew allows")
        if event.time_us < now_us - self._max_age_us():
            raise Rejection(
                "too_late", f"older than max_{self.what}_age: the {self.what} may already be let go"
            )
        return event, decoded.unknown_fields


class CallProcessor(_Step[CallRecord]):
    """Per-call step. The table is the call table (call id -> :class:`CallRecord`)."""

    kinds = CALL_TYPES
    what = "call"

    def _max_age_us(self) -> int:
        return self.settings.limits.max_call_age_us

    def _fold(
        self, event: Event, unknown_fields: int, records: MutableMapping[str, CallRecord], now_us: int
    ) -> list[Outgoing]:
        assert event.call_id is not None
        record = records.get(event.call_id) or CallRecord(event.call_id)
        touched = record.apply(event)
        if touched is None:
            self.stats.duplicate()
            touched = tuple(record.queues())  # re-send: a crash may have lost the first send
        else:
            self.stats.accepted(event.type, event.time_us, unknown_fields)
            records[event.call_id] = record
        return [Outgoing("queues", q.encode(), visit_message(record.visit(q))) for q in sorted(set(touched))]

    def forget(
        self, records: MutableMapping[str, CallRecord], candidates: Iterable[str], now_us: int
    ) -> list[str]:
        """Call ids among ``candidates`` old enough to let go (the caller deletes them)."""
        oldest = now_us - self.settings.limits.forget_call_after_us
        return [c for c in candidates if (r := records.get(c)) is not None and r.last_us < oldest]


class AgentProcessor(_Step[AgentHistory]):
    """Per-agent step. The table is the agent table (agent id -> :class:`AgentHistory`)."""

    kinds = AGENT_TYPES
    what = "agent"

    def _max_age_us(self) -> int:
        return self.settings.limits.max_agent_age_us

    def _fold(
        self, event: Event, unknown_fields: int, histories: MutableMapping[str, AgentHistory], now_us: int
    ) -> list[Outgoing]:
        assert event.agent_id is not None
        history = histories.get(event.agent_id) or AgentHistory(event.agent_id)
        if history.add(event):
            self.stats.accepted(event.type, event.time_us, unknown_fields)
            history.forget_before(now_us)
            histories[event.agent_id] = history
        else:
            self.stats.duplicate()
        message = agent_message(history)
        return [Outgoing("queues", q.encode(), message) for q in sorted(history.all_queues())]


class QueueRegistry:
    """The queues this worker owns, by partition of the internal queue topic."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.states: dict[str, QueueState] = {}
        self.partition: dict[str, int] = {}

    def apply(self, queue: str, partition: int, value: bytes) -> tuple[str, Visit | AgentHistory]:
        """Apply one queue-topic message; return the table key and value to store."""
        kind, body = orjson.loads(value)
        state = self._state(queue, partition)
        if kind == "visit":
            visit = Visit.from_json(body)
            state.apply_visit(visit)
            return f"{queue}{SEPARATOR}{visit.call_id}", visit
        history = AgentHistory.from_json(body)
        state.apply_agent(history)
        return f"{queue}{SEPARATOR}{history.agent_id}", history

    def rebuild(
        self,
        items: Iterable[tuple[str, Visit | AgentHistory]],
        settled: Iterable[tuple[str, Settled]],
        partition_of: dict[str, int],
    ) -> None:
        """Recreate owned queues from table contents after recovery (``partition_of``: queue to partition)."""
        for queue, sums in settled:
            if queue in partition_of:
                self._state(queue, partition_of[queue]).restore_settled(sums)
        for key, value in items:
            queue = key.split(SEPARATOR, 1)[0]
            if queue not in partition_of:
                continue
            state = self._state(queue, partition_of[queue])
            if isinstance(value, Visit):
                state.apply_visit(value)
            else:
                state.apply_agent(value)

    def keep_partitions(self, owned: set[int]) -> None:
        """Drop queues whose partition this worker no longer owns (no stale series)."""
        for queue in [q for q, p in self.partition.items() if p not in owned]:
            del self.states[queue], self.partition[queue]

    def snapshot(self, now_us: int) -> tuple[QueueSnapshot, ...]:
        return tuple(self.states[q].snapshot(now_us) for q in sorted(self.states))

    def forget(self, partition: int, now_us: int) -> tuple[list[str], dict[str, Settled]]:
        """Let go of old state in one partition's queues.

        Returns the table keys let go (the caller deletes them) and the new settled sums of
        the queues that let visits go (the caller stores them).
        """
        keys, settled = [], {}
        for queue, state in self.states.items():
            if self.partition[queue] == partition:
                calls, agents = state.forget(now_us)
                keys += [f"{queue}{SEPARATOR}{i}" for i in (*calls, *agents)]
                if calls:
                    settled[queue] = state.settled
        return keys, settled

    def _state(self, queue: str, partition: int) -> QueueState:
        state = self.states.get(queue)
        if state is None:
            state = self.states[queue] = QueueState(queue, self.settings)
        self.partition[queue] = partition
        return state
