"""The two kinds of failure a command reports in one sentence instead of a traceback.

``ccmetrics`` exits 2 for a :class:`UsageProblem` (a bad argument, setting or file: the
user can fix the command) and 1 for a :class:`RuntimeProblem` (something it needs is not
there: Kafka cannot be reached, the port is taken). Usage::

    raise UsageProblem("--rate must be a number above 0, not -5")
"""

from __future__ import annotations


class UsageProblem(ValueError):
    """The command, its settings or its input files are not valid (exit 2)."""


class RuntimeProblem(RuntimeError):
    """The command is valid, but what it needs is not available (exit 1)."""
