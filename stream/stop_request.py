"""Stopping a long-running command cleanly on SIGINT or SIGTERM.

A shell without job control starts background jobs with SIGINT ignored, and Python then
never raises ``KeyboardInterrupt``: ``publish --follow`` would run until killed. Handlers set
here by the command itself work however it was started. Usage::

    async with StopRequest() as stop:
        while not stop.requested:
            ...
            if await stop.wait(0.2):  # sleeps, but wakes at once when asked to stop
                break
            if not await stop.unless_stopped(producer.flush()):
                break
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable
from types import TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set when the process gets SIGINT or SIGTERM while in use."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    async def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; whether a stop was asked for."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        return self.requested

    async def unless_stopped(self, work: Awaitable[object]) -> bool:
        """Await ``work`` unless a stop is asked for first (then it is cancelled); whether it ended.

        A flush to a Kafka that is away never ends: this keeps a stop request heard meanwhile.
        """
        task, stopped = asyncio.ensure_future(work), asyncio.ensure_future(self._event.wait())
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, stopped):
            pending.cancel()
        return task.done() and not task.cancelled()

    async def __aenter__(self) -> StopRequest:
        loop = asyncio.get_running_loop()
        for number in SIGNALS:
            loop.add_signal_handler(number, self._event.set)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        for number in SIGNALS:
            loop.remove_signal_handler(number)
