"""The per-caller step (key = the caller's hash): which calls are repeats, told to their queues.

It takes the calls step's :class:`~metrics.callers.CallerMark` messages, keeps each caller's
:class:`~metrics.callers.CallerHistory` (a dict in replay; in the worker a faust table keyed
and partitioned by the hash, with quiet histories packed to disk), and sends each queue the
verdicts that are new or changed, as :class:`~metrics.steps.messages.QueueUpdate` messages of
kind ``"verdicts"``. Usage::

    callers = CallerStep(settings)
    output = callers.fold([(mark, token)], histories, clock.reading())
    histories.update({caller: history for caller, (history, _) in output.writes.items()})
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from metrics.callers import CallerHistory, CallerMark, Verdict
from metrics.settings import Settings
from metrics.steps.clock import Reading
from metrics.steps.messages import QueueUpdate
from metrics.storage.cold import Lookup

Token = TypeVar("Token")


class CallerOutput(Generic[Token]):
    """Histories to store (each with the token of one of its marks), and the queues' verdicts.

    (A plain class: mypyc cannot compile a generic dataclass, mypyc/mypyc#827.)"""

    def __init__(self) -> None:
        self.writes: dict[str, tuple[CallerHistory, Token]] = {}
        self.updates: list[QueueUpdate] = []


class CallerStep:
    """Repeat calls per caller; a history is kept while a mark admitted now may still reach it."""

    def __init__(self, settings: Settings) -> None:
        limits = settings.limits
        self.window_us = settings.callers.repeat_window_us
        # a mark is admitted up to max_call_age late (then crosses a topic): twice that, as calls
        self.keep_us = self.window_us + limits.expire_call_after_us

    def fold(
        self,
        marks: Iterable[tuple[CallerMark, Token]],
        store: Lookup[CallerHistory],
        reading: Reading,
    ) -> CallerOutput[Token]:
        """Take a batch of marks; each history touched is stored once, each queue told once."""
        output: CallerOutput[Token] = CallerOutput()
        by_caller: dict[str, list[CallerMark]] = {}
        tokens: dict[str, Token] = {}
        for mark, token in marks:
            by_caller.setdefault(mark.caller, []).append(mark)
            tokens[mark.caller] = token
        by_queue: dict[str, list[Verdict]] = {}
        for caller, group in by_caller.items():
            history = self._history(store, caller, reading)
            for queue, verdict in history.add(group, self.window_us):
                by_queue.setdefault(queue, []).append(verdict)
            output.writes[caller] = (history, tokens[caller])
        output.updates = [QueueUpdate(q, "verdicts", by_queue[q]) for q in sorted(by_queue)]
        return output

    def _history(self, store: Lookup[CallerHistory], caller: str, reading: Reading) -> CallerHistory:
        history = store.get(caller)
        if history is None:
            return CallerHistory(caller)
        if reading.reached_us is not None:
            history.trim(reading.reached_us - self.keep_us)
        return history

    def expired(self, store: Lookup[CallerHistory], candidates: Iterable[str], now_us: int) -> list[str]:
        """Callers among ``candidates`` with no call queued for longer than a history is kept."""
        oldest = now_us - self.keep_us
        return [
            key for key in candidates if (history := store.get(key)) is not None and history.last_us < oldest
        ]
