"""Whether a valid event may still change state at the clock's reading: too late or too early.

A call event older than ``reached - max_call_age`` (an agent event: ``max_agent_age``) is too
late: its call or agent may already have expired, and a fresh record would count the call
twice or lose the agent's queues. An event timed more than ``max_clock_skew`` ahead of its
arrival is too early: its publisher's clock is wrong. Duplicates are the fold's to find.
"""

from __future__ import annotations

from metrics.contract.events import Event, Rejection
from metrics.settings import Limits
from metrics.steps.clock import Reading


class Admission:
    """The time rules for one kind of entity (``"call"`` or ``"agent"``).

    >>> from metrics.steps.clock import Reading
    >>> rules = Admission(Limits(max_call_age_seconds=600), "call")
    >>> event = Event("e1", "call.queued", 0, "pbx", call_id="c1", queue="q")
    >>> rules.judge(event, Reading(600_000_001, None)).reason
    'too_late'
    """

    def __init__(self, limits: Limits, what: str) -> None:
        self.what = what
        self.max_age_us = limits.max_call_age_us if what == "call" else limits.max_agent_age_us
        self.max_skew_us = limits.max_clock_skew_us

    def judge(self, event: Event, reading: Reading) -> Rejection | None:
        """The rejection of an event that may not change state any more, else ``None``."""
        reached, arrived = reading
        if arrived is not None and event.time_us > arrived + self.max_skew_us:
            return Rejection("too_early", "timed further ahead of now than max_clock_skew allows")
        if reached is not None and event.time_us < reached - self.max_age_us:
            what = self.what
            return Rejection("too_late", f"older than max_{what}_age: the {what} may already have expired")
        return None
