"""One shared copy of each of a few values that thousands of records repeat.

Agents' states, reasons and queue lists, and the phases of their timelines, are a handful of
values said over and over: each event decoded would otherwise keep its own copy for as long
as a history or a timeline keeps the change (a list of three queues is 64 bytes, and an
agent's heartbeats of the last 15 minutes are kept). Sharing saves memory only, so when a
feed's variety outgrows ``limit`` the table starts afresh rather than growing without bound
(values already shared stay shared). Usage::

    lists = Shared[tuple[str, ...]]()
    a = lists.share(("billing", "sales"))
    b = lists.share(tuple(["billing", "sales"]))
    a is b   # True
    QUEUE_LISTS.share(queues)   # the process's table of agents' queue lists
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")


def _same(value: T) -> T:
    return value


class Shared(Generic[T]):
    """A table of shared values; ``prepare`` makes the copy kept when a value is first seen
    (a value equal to the one given: its strings interned, say)."""

    def __init__(self, prepare: Callable[[T], T] = _same, limit: int = 65_536) -> None:
        self._shared: dict[T, T] = {}
        self._prepare = prepare
        self._limit = limit

    def share(self, value: T) -> T:
        """The shared value equal to ``value`` (``value`` made the shared one if none is)."""
        shared = self._shared.get(value)
        if shared is None:
            if len(self._shared) >= self._limit:
                self._shared.clear()
            shared = self._prepare(value)
            self._shared[shared] = shared
        return shared

    def __len__(self) -> int:
        return len(self._shared)


def _interned_queues(queues: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(sys.intern, queues))


QUEUE_LISTS: Final = Shared(_interned_queues)  # an agent lists its queues in every heartbeat
