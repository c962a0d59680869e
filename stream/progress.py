"""Progress on a terminal for long jobs: bytes done, rate, and time left."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO


class Progress:
    """Prints a one-line progress report to a terminal at most every ``every`` seconds.

    Silent when ``out`` is not a terminal, so logs and pipes stay clean::

        progress = Progress(total_bytes=size)
        for line in progress.counting(open(path, "rb")):
            ...
        progress.done()
    """

    def __init__(
        self, total_bytes: int, label: str = "replay", out: TextIO | None = None, every: float = 0.5
    ) -> None:
        self.total = max(total_bytes, 1)
        self.label = label
        self.out = out or sys.stderr
        self.every = every
        self.enabled = self.out.isatty()
        self.done_bytes = 0
        self.items = 0
        self._started = self._shown = time.monotonic()

    def counting(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        for line in lines:
            self.done_bytes += len(line)
            self.items += 1
            if self.enabled and time.monotonic() - self._shown >= self.every:
                self._show()
            yield line

    def _show(self) -> None:
        self._shown = now = time.monotonic()
        elapsed = max(now - self._started, 1e-9)
        share = self.done_bytes / self.total
        left = elapsed * (1 - share) / share if share else 0.0
        rate = self.items / elapsed
        text = f"\r{self.label}: {share:6.1%}  {self.items:,} lines  {rate:,.0f}/s  ~{left:.0f}s left"
        self.out.write(text)
        self.out.flush()

    def done(self) -> None:
        if self.enabled:
            self._show()
            self.out.write("\n")
            self.out.flush()
