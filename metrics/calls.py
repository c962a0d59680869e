"""Per-call state: every event of one call folded into order-independent facts.

Each fact keeps the smallest ``(time, ...)`` candidate seen, so a duplicate, a re-sent
event or a different arrival order gives the same record. Usage::

    record = CallRecord("c1")
    touched = record.apply(event)        # queues whose Visit may have changed, or None
    for queue in touched or ():
        visit = record.visit(queue)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from metrics.agent_calls import AgentCall
from metrics.contract.events import Event
from metrics.visits import Handling, Survey, Visit, new_visit

_OUTCOME_RANK: Final = {"call.answered": 0, "call.abandoned": 1, "call.flowed_out": 2}
_OUTCOME_NAME: Final = {0: "answered", 1: "abandoned", 2: "flowed_out"}
FIELDS: Final = (
    "queued",
    "outcomes",
    "blocked",
    "answered",
    "ended",
    "wrapup_ended",
    "transferred",
    "missed",
    "surveys",
)
_SURVEY: Final = "survey"  # the key of a call's one survey fact: its earliest survey counts

Fact = tuple[Any, ...]  # (time, ..., key): the queue or agent it is about comes last
Facts = tuple[Fact, ...]  # one fact per key; a tuple is a fifth of a small dict's size
Touched = tuple[str, ...]  # queues whose visit may have changed (a queue may appear twice)
_NONE: Final[Touched] = ()


def _find(facts: Facts, key: str) -> Fact | None:
    for fact in facts:
        if fact[-1] == key:
            return fact
    return None


def _keep_min(record: CallRecord, field: str, candidate: Fact) -> bool:
    """Keep the earliest candidate for its key (its last item); say whether the facts changed.

    Facts of one key end in the same key, so comparing whole tuples compares what is before it.
    """
    facts: Facts = getattr(record, field)
    key = candidate[-1]
    for index, fact in enumerate(facts):
        if fact[-1] == key:
            if fact <= candidate:
                return False
            setattr(record, field, (*facts[:index], candidate, *facts[index + 1 :]))
            return True
    setattr(record, field, (*facts, candidate))
    return True


class CallRecord:
    """All that is known of one call, by queue and by agent."""

    __slots__ = ("call_id", "event_ids", "last_us", *FIELDS)

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        # a call has a handful of events: a tuple is a quarter of a set's size, as fast to search
        self.event_ids: tuple[str, ...] = ()
        self.last_us = 0
        self.queued: Facts = ()  # (time, id, queue)
        self.outcomes: Facts = ()  # (time, rank, id, queue); a flow-out's: (time, rank, id, reason, queue)
        self.blocked: Facts = ()  # (time, id, queue)
        self.answered: Facts = ()  # (time, id, queue, agent)
        self.ended: Facts = ()  # (time, id, wrapup, agent)
        self.wrapup_ended: Facts = ()  # (time, id, agent)
        self.transferred: Facts = ()  # (time, id, agent)
        self.missed: Facts = ()  # (time, queue, agent, id): one per event, a call may ring an agent twice
        self.surveys: Facts = ()  # (time, id, csat, nps, ces, queue or None, agent or None, "survey")

    def apply(self, event: Event) -> Touched | None:
        """Fold one event in. Returns the queues it may have changed; ``None`` for a duplicate."""
        if event.id in self.event_ids:
            return None
        self.event_ids += (event.id,)
        if event.time_us > self.last_us:
            self.last_us = event.time_us
        if not self.surveys:
            return _APPLY[event.type](self, event)
        surveyed = self.survey_queue()  # an answer may move the survey to another queue
        touched = _APPLY[event.type](self, event)
        now_surveyed = self.survey_queue()
        moved = (surveyed, now_surveyed) if surveyed != now_surveyed else ()
        return touched + tuple(queue for queue in moved if queue is not None)

    def queues(self) -> set[str]:
        """Every queue this call has a fact in."""
        found = {fact[-1] for fact in (*self.queued, *self.outcomes, *self.blocked)}
        surveyed = self.survey_queue()
        return found if surveyed is None else found | {surveyed}

    def survey_queue(self) -> str | None:
        """The queue the survey counts in: its own, else the queue of the call's latest answer at
        or before the survey (each agent's first answer), so that it depends on no later event."""
        return self._survey_target(named=5, answered=2)

    def survey_agent(self) -> str | None:
        """The agent the survey counts for: its own, else the agent of that same answer."""
        return self._survey_target(named=6, answered=3)

    def _survey_target(self, named: int, answered: int) -> str | None:
        survey = _find(self.surveys, _SURVEY)  # (time, id, csat, nps, ces, queue, agent, key)
        if survey is None:
            return None
        if survey[named] is not None:
            return str(survey[named])
        before = [fact for fact in self.answered if fact[0] <= survey[0]]  # (time, id, queue, agent)
        return str(max(before)[answered]) if before else None

    def visit(self, queue: str) -> Visit:
        """The facts of this call in ``queue``."""
        queued, outcome = _find(self.queued, queue), _find(self.outcomes, queue)
        blocked = _find(self.blocked, queue)
        handlings: list[Handling] = []
        transfers: list[int] = []
        for fact in self.answered:
            if fact[2] == queue:
                self._add_handling(fact[-1], fact[0], handlings, transfers)
        survey = self._survey_in(queue)
        times = [f[0] for f in (queued, outcome, blocked) if f is not None]
        times += [h.done_us for h in handlings]
        times += [survey[0]] if survey else []
        return new_visit(
            (
                self.call_id,
                queue,
                max(times + transfers) if times or transfers else self.last_us,
                queued[0] if queued else None,
                _OUTCOME_NAME[outcome[1]] if outcome else None,
                outcome[0] if outcome else None,
                tuple(handlings),
                tuple(transfers),
                blocked[0] if blocked else None,
                _flow_out_reason(outcome),
                survey,
                None,  # identified: the callers step tells it, never the calls step
            )
        )

    def _survey_in(self, queue: str) -> Survey | None:
        """The survey's time and scores, if it counts in ``queue``."""
        return self._scores() if self.survey_queue() == queue else None

    def _scores(self) -> Survey | None:
        survey = _find(self.surveys, _SURVEY)
        return None if survey is None else (survey[0], survey[2], survey[3], survey[4])

    def _add_handling(
        self, agent: str, answered_us: int, handlings: list[Handling], transfers: list[int]
    ) -> None:
        """Add the agent's completed handling and its transfer, when known."""
        transfer = _find(self.transferred, agent)
        if transfer is not None:
            transfers.append(transfer[0])
        done_us = self._handling_done(agent)
        if done_us is not None:
            handlings.append(Handling(done_us, max(0, done_us - answered_us)))

    def _handling_done(self, agent: str) -> int | None:
        """When the agent's handling completed: the end, or the end of wrap-up if one follows."""
        ended = _find(self.ended, agent)
        if ended is None:
            return None
        if not ended[2]:
            return int(ended[0])
        wrapup = _find(self.wrapup_ended, agent)
        return None if wrapup is None else max(ended[0], wrapup[0])

    def agents(self) -> set[str]:
        """Every agent this call names: those that answered, ended, transferred or missed it."""
        named = (*self.answered, *self.ended, *self.wrapup_ended, *self.transferred)
        found = {fact[-1] for fact in named} | {fact[2] for fact in self.missed}
        surveyed = self.survey_agent()  # a survey may name an agent no other event names
        return found if surveyed is None else found | {surveyed}

    def agent_call(self, agent: str) -> AgentCall:
        """The call as ``agent`` saw it (handling counts once the agent answered it)."""
        answered, transfer = _find(self.answered, agent), _find(self.transferred, agent)
        done_us = self._handling_done(agent) if answered is not None else None
        handle_us = 0 if done_us is None or answered is None else max(0, done_us - answered[0])
        missed = tuple(sorted(fact[0] for fact in self.missed if fact[2] == agent))
        transferred_us = None if transfer is None else transfer[0]
        survey = self._scores() if self.survey_agent() == agent else None
        return AgentCall(
            self.call_id, agent, self.last_us, done_us, handle_us, transferred_us, missed, survey
        )

    def _queue_of(self, agent: str) -> Touched:
        fact = _find(self.answered, agent)
        return (fact[2],) if fact else _NONE

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the faust table's changelog: facts by key, as they always were."""
        state = {name: {fact[-1]: fact[:-1] for fact in getattr(self, name)} for name in FIELDS}
        for name in ("missed", "surveys"):
            if not getattr(self, name):
                del state[name]  # as records were stored before missed offers and surveys were kept
        return {"id": self.call_id, "ids": sorted(self.event_ids), "last": self.last_us, **state}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        record = cls(data["id"])
        record.event_ids = tuple(data["ids"])
        record.last_us = data["last"]
        # one string per event id, as when the events were folded in: facts hold them too
        ids = {event_id: event_id for event_id in record.event_ids}
        for name in FIELDS:
            facts = tuple(_fact_from_json(value, key, ids) for key, value in data.get(name, {}).items())
            setattr(record, name, facts)
        return record


def _fact_from_json(value: Sequence[Any], key: str, ids: dict[str, str]) -> Fact:
    """A stored fact with its key put back last; its texts are event ids or queue ids."""
    shared = (ids.get(item) or sys.intern(item) if type(item) is str else item for item in value)
    return (*shared, sys.intern(key))


def _on_queued(record: CallRecord, event: Event) -> Touched:
    assert event.queue is not None
    changed = _keep_min(record, "queued", (event.time_us, event.id, event.queue))
    return (event.queue,) if changed else _NONE


def _flow_out_reason(outcome: Fact | None) -> str | None:
    """A flow-out's reason; ``other`` for one stored before reasons were kept."""
    if outcome is None or outcome[1] != _OUTCOME_RANK["call.flowed_out"]:
        return None
    return str(outcome[3]) if len(outcome) == 5 else "other"


def _on_outcome(record: CallRecord, event: Event) -> Touched:
    assert event.queue is not None
    rank = _OUTCOME_RANK[event.type]
    if event.type == "call.flowed_out":  # the earliest outcome wins whole: its reason with it
        candidate: Fact = (event.time_us, rank, event.id, event.reason, event.queue)
    else:
        candidate = (event.time_us, rank, event.id, event.queue)
    changed = _keep_min(record, "outcomes", candidate)
    return (event.queue,) if changed else _NONE


def _on_answered(record: CallRecord, event: Event) -> Touched:
    assert event.queue is not None and event.agent_id is not None
    before = record._queue_of(event.agent_id)
    _keep_min(record, "answered", (event.time_us, event.id, event.queue, event.agent_id))
    return _on_outcome(record, event) + before + record._queue_of(event.agent_id)


def _on_blocked(record: CallRecord, event: Event) -> Touched:
    assert event.queue is not None
    changed = _keep_min(record, "blocked", (event.time_us, event.id, event.queue))
    return (event.queue,) if changed else _NONE


def _agent_fact(field: str, with_wrapup: bool = False) -> Callable[[CallRecord, Event], Touched]:
    def apply(record: CallRecord, event: Event) -> Touched:
        assert event.agent_id is not None
        at, agent = event.time_us, event.agent_id
        fact: Fact = (at, event.id, event.wrapup, agent) if with_wrapup else (at, event.id, agent)
        if not _keep_min(record, field, fact):
            return _NONE
        return record._queue_of(event.agent_id)

    return apply


def _on_missed(record: CallRecord, event: Event) -> Touched:
    """A missed offer is the agent's: no queue metric changes."""
    assert event.queue is not None and event.agent_id is not None
    _keep_min(record, "missed", (event.time_us, event.queue, event.agent_id, event.id))
    return _NONE


def _on_survey(record: CallRecord, event: Event) -> Touched:
    """The earliest survey of a call counts, in the queue :meth:`CallRecord.survey_queue` says
    (:meth:`CallRecord.apply` adds the queue an earlier survey counted in, when it moves)."""
    fact = (event.time_us, event.id, event.csat, event.nps, event.ces, event.queue, event.agent_id, _SURVEY)
    if not _keep_min(record, "surveys", fact):
        return _NONE
    surveyed = record.survey_queue()
    return _NONE if surveyed is None else (surveyed,)


def _no_fact(record: CallRecord, event: Event) -> Touched:
    return _NONE


_APPLY: Final[dict[str, Callable[[CallRecord, Event], Touched]]] = {
    "call.queued": _on_queued,
    "call.answered": _on_answered,
    "call.abandoned": _on_outcome,
    "call.flowed_out": _on_outcome,
    "call.blocked": _on_blocked,
    "call.ended": _agent_fact("ended", with_wrapup=True),
    "call.wrapup_ended": _agent_fact("wrapup_ended"),
    "call.transferred": _agent_fact("transferred"),
    "call.agent_no_answer": _on_missed,
    "survey.completed": _on_survey,
    "call.held": _no_fact,
    "call.resumed": _no_fact,
}
