"""Stopping the child processes a script started (demo, soak, benchmarks)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence


def stop_all(children: Sequence[subprocess.Popen[bytes]], timeout: float = 20) -> None:
    """SIGTERM each child, newest first, and wait; kill whoever does not stop in ``timeout``."""
    for child in reversed(children):
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
