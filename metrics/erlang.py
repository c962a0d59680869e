"""Staffing to demand by Erlang C: how many agents a queue's traffic needs to meet its target.

The queue is taken as M/M/N: calls arrive at rate ``λ`` and need ``AHT`` seconds each, so the
offered load is ``A = λ·AHT`` erlangs. With ``N`` agents the probability that a call waits is
Erlang C, ``C(N, A)``, found from the Erlang B recursion ``B(n) = A·B(n−1) / (n + A·B(n−1))``
(no factorials or powers: stable for thousands of agents) as ``C = N·B / (N − A·(1 − B))``.
Then the service level is ``SL(N) = 1 − C·e^(−(N − A)·T / AHT)`` and the average speed of
answer ``ASA = C·AHT / (N − A)``; both need ``N > A`` (otherwise the queue grows without bound).

>>> need = staffing(load_erlangs=10.0, handle_s=180.0, threshold_s=20.0, target=0.8, staffed=12)
>>> need.required_agents, round(need.predicted_service_level, 4), need.gap_agents
(14, 0.6402, 2)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final, NamedTuple

_MOST_AGENTS_ABOVE_LOAD: Final = 100_000  # a bound on the search, never reached by a real target < 1
# Beyond any contact center (the search costs about 0.1 us an agent): a feed with times or
# handle times far off must not make every snapshot count millions of agents.
MAX_LOAD_ERLANGS: Final = 50_000.0


class Staffing(NamedTuple):
    """What a queue's load needs, and what the agents staffed now would give."""

    load_erlangs: float
    required_agents: int  # the fewest agents that meet the target
    gap_agents: int  # required − staffed: positive when short
    predicted_service_level: float  # at the agents staffed now (0 when they cannot keep up)
    predicted_answer_speed_s: float | None  # at the agents staffed now (None when unbounded)


def erlang_c(agents: int, load_erlangs: float) -> float:
    """The probability that a call waits, with ``agents`` serving ``load_erlangs`` (1 if N <= A)."""
    if agents <= load_erlangs:
        return 1.0
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load_erlangs * blocking / (n + load_erlangs * blocking)
    return _waits(agents, load_erlangs, blocking)


def service_level(agents: int, load_erlangs: float, handle_s: float, threshold_s: float) -> float:
    """The share of calls answered within ``threshold_s`` (0 if the agents cannot keep up)."""
    if agents <= load_erlangs:
        return 0.0
    return _service_level(agents, load_erlangs, erlang_c(agents, load_erlangs), handle_s, threshold_s)


def answer_speed_s(agents: int, load_erlangs: float, handle_s: float) -> float | None:
    """The average wait of all calls, answered at once or not (``None`` if N <= A: unbounded)."""
    if agents <= load_erlangs:
        return None
    return erlang_c(agents, load_erlangs) * handle_s / (agents - load_erlangs)


def required_agents(load_erlangs: float, handle_s: float, threshold_s: float, target: float) -> int:
    """The smallest ``N > A`` with ``SL(N) >= target``; one Erlang B pass, however large N is."""
    blocking, n = 1.0, 0
    while True:
        n += 1
        blocking = load_erlangs * blocking / (n + load_erlangs * blocking)
        if n <= load_erlangs:
            continue
        waits = _waits(n, load_erlangs, blocking)
        met = _service_level(n, load_erlangs, waits, handle_s, threshold_s) >= target
        if met or n > load_erlangs + _MOST_AGENTS_ABOVE_LOAD:
            return n


@lru_cache(maxsize=8192)  # a snapshot asks it of every queue and window; few inputs change between two
def staffing(
    load_erlangs: float, handle_s: float, threshold_s: float, target: float, staffed: int
) -> Staffing:
    """Required agents for the target, and the service level and ASA the ``staffed`` agents give."""
    required = required_agents(load_erlangs, handle_s, threshold_s, target)
    return Staffing(
        load_erlangs,
        required,
        required - staffed,
        service_level(staffed, load_erlangs, handle_s, threshold_s),
        answer_speed_s(staffed, load_erlangs, handle_s),
    )


def _waits(agents: int, load_erlangs: float, blocking: float) -> float:
    """Erlang C from Erlang B at the same N and A (N > A)."""
    return agents * blocking / (agents - load_erlangs * (1.0 - blocking))


def _service_level(agents: int, load: float, waits: float, handle_s: float, threshold_s: float) -> float:
    return 1.0 - waits * math.exp(-(agents - load) * threshold_s / handle_s)
