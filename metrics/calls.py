"""Per-call state: every event of one call folded into order-independent facts.

Each fact keeps the smallest ``(time, ...)`` candidate seen, so a duplicate, a re-sent
event or a different arrival order gives the same record. Usage::

    record = CallRecord("c1")
    touched = record.apply(event)        # queues whose Visit may have changed, or None
    for queue in touched or ():
        visit = record.visit(queue)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metrics.events import Event
from metrics.visits import Handling, Visit

_OUTCOME_RANK = {"call.answered": 0, "call.abandoned": 1, "call.flowed_out": 2}
_OUTCOME_NAME = {0: "answered", 1: "abandoned", 2: "flowed_out"}
_FIELDS = ("queued", "outcomes", "blocked", "answered", "ended", "wrapup_ended", "transferred")

Fact = tuple[Any, ...]


def _keep_min(facts: dict[str, Fact], key: str, candidate: Fact) -> bool:
    """Keep the earliest candidate for ``key``; say whether the stored fact changed."""
    current = facts.get(key)
    if current is not None and current <= candidate:
        return False
    facts[key] = candidate
    return True


class CallRecord:
    """All that is known of one call, by queue and by agent."""

    __slots__ = ("call_id", "event_ids", "last_us", *_FIELDS)

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.event_ids: set[str] = set()
        self.last_us = 0
        self.queued: dict[str, Fact] = {}  # queue -> (time, id)
        self.outcomes: dict[str, Fact] = {}  # queue -> (time, rank, id)
        self.blocked: dict[str, Fact] = {}  # queue -> (time, id)
        self.answered: dict[str, Fact] = {}  # agent -> (time, id, queue)
        self.ended: dict[str, Fact] = {}  # agent -> (time, id, wrapup)
        self.wrapup_ended: dict[str, Fact] = {}  # agent -> (time, id)
        self.transferred: dict[str, Fact] = {}  # agent -> (time, id)

    def apply(self, event: Event) -> frozenset[str] | None:
        """Fold one event in. Returns the queues it may have changed; ``None`` for a duplicate."""
        if event.id in self.event_ids:
            return None
        self.event_ids.add(event.id)
        self.last_us = max(self.last_us, event.time_us)
        return _APPLY[event.type](self, event)

    def queues(self) -> set[str]:
        """Every queue this call has a fact in."""
        return {*self.queued, *self.outcomes, *self.blocked}

    def visit(self, queue: str) -> Visit:
        """The facts of this call in ``queue``."""
        agents = [a for a, fact in self.answered.items() if fact[2] == queue]
        queued, outcome, blocked = (f.get(queue) for f in (self.queued, self.outcomes, self.blocked))
        handlings = tuple(h for h in map(self._handling, agents) if h is not None)
        transfers = tuple(self.transferred[a][0] for a in agents if a in self.transferred)
        times = [f[0] for f in (queued, outcome, blocked) if f is not None]
        times += [h.done_us for h in handlings] + list(transfers)
        return Visit(
            call_id=self.call_id,
            queue=queue,
            last_us=max(times, default=self.last_us),
            queued_us=queued[0] if queued else None,
            outcome=_OUTCOME_NAME[outcome[1]] if outcome else None,
            outcome_us=outcome[0] if outcome else None,
            handlings=handlings,
            transfers_us=transfers,
            blocked_us=blocked[0] if blocked else None,
        )

    def _handling(self, agent: str) -> Handling | None:
        answered_us = self.answered[agent][0]
        ended = self.ended.get(agent)
        if ended is None:
            return None
        done_us = ended[0]
        if ended[2]:  # wrap-up follows: handling completes when it ends
            wrapup = self.wrapup_ended.get(agent)
            if wrapup is None:
                return None
            done_us = max(done_us, wrapup[0])
        return Handling(done_us, max(0, done_us - answered_us))

    def _queue_of(self, agent: str) -> frozenset[str]:
        fact = self.answered.get(agent)
        return frozenset((fact[2],)) if fact else frozenset()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the faust table's changelog."""
        state: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        return {"id": self.call_id, "ids": sorted(self.event_ids), "last": self.last_us, **state}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        record = cls(data["id"])
        record.event_ids = set(data["ids"])
        record.last_us = data["last"]
        for name in _FIELDS:
            setattr(record, name, {k: tuple(v) for k, v in data[name].items()})
        return record


def _on_queued(record: CallRecord, event: Event) -> frozenset[str]:
    assert event.queue is not None
    changed = _keep_min(record.queued, event.queue, (event.time_us, event.id))
    return frozenset((event.queue,)) if changed else frozenset()


def _on_outcome(record: CallRecord, event: Event) -> frozenset[str]:
    assert event.queue is not None
    candidate = (event.time_us, _OUTCOME_RANK[event.type], event.id)
    changed = _keep_min(record.outcomes, event.queue, candidate)
    return frozenset((event.queue,)) if changed else frozenset()


def _on_answered(record: CallRecord, event: Event) -> frozenset[str]:
    assert event.queue is not None and event.agent_id is not None
    before = record._queue_of(event.agent_id)
    _keep_min(record.answered, event.agent_id, (event.time_us, event.id, event.queue))
    return _on_outcome(record, event) | before | record._queue_of(event.agent_id)


def _on_blocked(record: CallRecord, event: Event) -> frozenset[str]:
    assert event.queue is not None
    changed = _keep_min(record.blocked, event.queue, (event.time_us, event.id))
    return frozenset((event.queue,)) if changed else frozenset()


def _agent_fact(field: str, with_wrapup: bool = False) -> Callable[[CallRecord, Event], frozenset[str]]:
    def apply(record: CallRecord, event: Event) -> frozenset[str]:
        assert event.agent_id is not None
        fact: Fact = (event.time_us, event.id, event.wrapup) if with_wrapup else (event.time_us, event.id)
        if not _keep_min(getattr(record, field), event.agent_id, fact):
            return frozenset()
        return record._queue_of(event.agent_id)

    return apply


def _no_fact(record: CallRecord, event: Event) -> frozenset[str]:
    return frozenset()


_APPLY: dict[str, Callable[[CallRecord, Event], frozenset[str]]] = {
    "call.queued": _on_queued,
    "call.answered": _on_answered,
    "call.abandoned": _on_outcome,
    "call.flowed_out": _on_outcome,
    "call.blocked": _on_blocked,
    "call.ended": _agent_fact("ended", with_wrapup=True),
    "call.wrapup_ended": _agent_fact("wrapup_ended"),
    "call.transferred": _agent_fact("transferred"),
    "call.held": _no_fact,
    "call.resumed": _no_fact,
}
