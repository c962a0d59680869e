"""What one call tells one agent: the agent's handling, transfer and missed offers of it.

The per-call step makes an :class:`AgentCall` for every agent a call names, each time the call
changes; like a :class:`~metrics.visits.Visit` it is a whole state, not a delta, so applying it
twice is harmless. The agent's KPIs are its contributions (:func:`call_contributions`), placed
at event times as the queues' are. Usage::

    told = AgentCall("c1", "a1", last_us=0, handled_us=180_000_000, handle_us=170_000_000)
    call_contributions(told)   # [(180000000, HANDLED, 1), (180000000, HANDLE_US, 170000000)]
"""

from __future__ import annotations

import sys
from typing import Any, Final, NamedTuple

from metrics.rules import Contribution, survey_contributions
from metrics.visits import Survey

HANDLED: Final = 0
HANDLE_US: Final = 1  # talk + hold + after-call work of the calls handled
TRANSFERRED: Final = 2
MISSED: Final = 3
CALL_SLOTS: Final = 4  # then the survey slots (metrics.rules.SURVEY_SLOTS)


class AgentCall(NamedTuple):
    """One call as one agent saw it.

    >>> AgentCall("c1", "a1", last_us=5, missed_us=(3, 5)).missed_us
    (3, 5)
    """

    call_id: str
    agent_id: str
    last_us: int  # the call's newest event: the agent side forgets the call when the call expires
    handled_us: int | None = None  # when the agent's handling completed (end of wrap-up, if any)
    handle_us: int = 0
    transferred_us: int | None = None
    missed_us: tuple[int, ...] = ()  # each ring the agent did not answer
    survey: Survey | None = None  # the call's survey, when it counts for this agent

    def to_json(self) -> list[Any]:
        tail = [] if self.survey is None else [list(self.survey)]  # rows stay as before without one
        return [*self[:6], list(self.missed_us), *tail]

    @classmethod
    def from_json(cls, row: list[Any]) -> AgentCall:
        call_id, agent_id, last_us, handled_us, handle_us, transferred_us, missed = row[:7]
        survey = tuple(row[7]) if len(row) > 7 else None
        return cls(
            call_id,
            sys.intern(agent_id),
            last_us,
            handled_us,
            handle_us,
            transferred_us,
            tuple(missed),
            survey,
        )


def call_contributions(told: AgentCall, base: int = 0) -> list[Contribution]:
    """The agent's contributions of one call: handled and its handle time, transfer, missed
    offers (in slots from ``base``), then its survey's answers."""
    found = [(at, base + MISSED, 1) for at in told.missed_us]
    found += survey_contributions(told.survey, base + CALL_SLOTS)
    if told.handled_us is not None:
        done = told.handled_us
        found += [(done, base + HANDLED, 1), (done, base + HANDLE_US, told.handle_us)]
    if told.transferred_us is not None:
        found.append((told.transferred_us, base + TRANSFERRED, 1))
    return found
