"""Counters of the event feed's health: accepted, rejected, ignored, duplicate events, and
messages the worker could not send."""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

from metrics.snapshot import PipelineSnapshot

_INTERFACE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/.")  # PJSIP/1001, Local/1127@from-queue/n


def agent_id_form(agent_id: str) -> str:
    """``interface`` for an id shaped like a channel interface (``TECH/resource``), else ``name``.

    >>> agent_id_form("PJSIP/1001"), agent_id_form("Alice")
    ('interface', 'name')
    """
    form = _FORMS.get(agent_id)
    if form is None:
        if len(_FORMS) >= _FORMS_KEPT:  # hostile ids: the memo stays bounded
            _FORMS.clear()
        form = _FORMS[agent_id] = "interface" if _INTERFACE.match(agent_id) else "name"
    return form


# every event naming an agent asks; agents are few (a plain dict: compiled, cheaper than lru_cache)
_FORMS: Final[dict[str, str]] = {}
_FORMS_KEPT: Final = 8192


class PipelineStats:
    """Mutable counters; :meth:`snapshot` gives the frozen view the exporter reads.

    >>> stats = PipelineStats()
    >>> stats.accepted("call.queued", 917_849_362_000_000)
    >>> stats.snapshot().events_by_type
    {'call.queued': 1}
    """

    def __init__(self) -> None:
        self.by_type: dict[str, int] = {}  # plain dicts where each event counts: compiled, native
        self.rejected_by_reason: Counter[str] = Counter()
        self.ignored_by_reason: Counter[str] = Counter()
        self.duplicates = 0
        self.unknown_fields = 0
        self.last_event_us: int | None = None
        self.output_failures: Counter[tuple[str, str]] = Counter()  # (topic, reason): worker only
        self.agent_id_forms: dict[str, int] = {}

    def accepted(self, event_type: str, time_us: int, unknown_fields: int = 0) -> None:
        self.by_type[event_type] = self.by_type.get(event_type, 0) + 1
        if unknown_fields:
            self.unknown_fields += unknown_fields
        last = self.last_event_us
        if last is None or time_us > last:
            self.last_event_us = time_us

    def named_agent(self, agent_id: str) -> None:
        """Count an accepted event naming an agent, by the form of the id (a queue_log that
        names members both ways shows both: docs/asterisk.md, "Interface or member name")."""
        form = agent_id_form(agent_id)
        self.agent_id_forms[form] = self.agent_id_forms.get(form, 0) + 1

    def rejected(self, reason: str) -> None:
        self.rejected_by_reason[reason] += 1

    def ignored(self, reason: str) -> None:
        self.ignored_by_reason[reason] += 1

    def duplicate(self) -> None:
        self.duplicates += 1

    def output_failed(self, topic: str, reason: str) -> None:
        self.output_failures[topic, reason] += 1

    def snapshot(self) -> PipelineSnapshot:
        return PipelineSnapshot(
            events_by_type=dict(self.by_type),
            rejected_by_reason=dict(self.rejected_by_reason),
            ignored_by_reason=dict(self.ignored_by_reason),
            duplicates=self.duplicates,
            unknown_fields=self.unknown_fields,
            last_event_us=self.last_event_us,
            output_failures=dict(self.output_failures),
            agent_id_forms=dict(self.agent_id_forms),
        )
