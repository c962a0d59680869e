"""Kafka records into arrivals for a step; what cannot be one, into rejection records.

The step judges the time of an event; this module judges what only Kafka has: the payload
(:func:`~metrics.contract.decode.decode`), the topic it came on and its key. Usage::

    intake = Intake(CallStep.kinds, "call", stats)
    arrivals, rejected = intake.take(records)     # rejected: records for callcenter.rejected
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple, TypeAlias

from aiokafka.structs import ConsumerRecord

from metrics.contract.decode import decode
from metrics.contract.events import Event, Rejection
from metrics.pipeline import PipelineStats
from metrics.steps.messages import Arrival
from stream.rejection_record import rejection_record

Record: TypeAlias = ConsumerRecord[bytes, bytes]


class Rejected(NamedTuple):
    """A message for the rejected topic: its key and value."""

    key: bytes | None
    value: bytes


class Intake:
    """Decodes one source topic's records and checks their topic and key."""

    def __init__(self, kinds: frozenset[str], what: str, stats: PipelineStats) -> None:
        self.kinds, self.what, self.stats = kinds, what, stats

    def take(self, records: Iterable[Record]) -> tuple[list[Arrival[Record]], list[Rejected]]:
        """The arrivals (each with its record as token) and rejection records, in order."""
        arrivals: list[Arrival[Record]] = []
        rejected: list[Rejected] = []
        for record in records:
            try:
                arrival = self._arrival(record)
            except Rejection as rejection:
                self.stats.rejected(rejection.reason)
                rejected.append(rejected_record(rejection, record))
                continue
            if arrival is not None:
                arrivals.append(arrival)
        return arrivals, rejected

    def _arrival(self, record: Record) -> Arrival[Record] | None:
        """The record's event; ``None`` for an unknown type (ignored and counted)."""
        decoded = decode(record.value or b"")
        if decoded.event is None:
            self.stats.ignored("unknown_type")
            return None
        self._check_key(decoded.event, record.key)
        return Arrival(decoded.event, decoded.unknown_fields, record)

    def _check_key(self, event: Event, key: bytes | None) -> None:
        what = self.what
        if event.type not in self.kinds:
            raise Rejection("wrong_topic", f"{event.type} does not belong on this topic")
        if key is None:
            raise Rejection("missing_key", f"a {what} event needs its {what} id as the Kafka key")
        entity = event.agent_id if event.type == "agent.state" else event.call_id
        if key.decode("utf-8", "replace") != entity:
            raise Rejection("key_mismatch", "the Kafka key must be the call id (calls) or agent id (agents)")


def rejected_record(rejection: Rejection, record: Record) -> Rejected:
    """The record for ``callcenter.rejected``: reason, detail, origin, a bounded payload prefix."""
    origin: dict[str, Any] = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    raw = record.value or b""
    return Rejected(*rejection_record(rejection.reason, rejection.detail, record.key, raw, origin))
