"""Erlang C: the issue's check values, textbook closed forms, and the factorial formula."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics import rules
from metrics.erlang import answer_speed_s, erlang_c, required_agents, service_level, staffing
from metrics.snapshot import QueueSnapshot, WindowValues


def test_the_check_values_of_the_definition() -> None:
    """100 calls in 30 min, AHT 180 s, T 20 s, target 0.8: A = 10, N = 14, SL 0.8884, ASA 7.84 s."""
    load = 100 / 1800 * 180
    assert load == pytest.approx(10)
    assert required_agents(load, 180, 20, 0.8) == 14
    assert service_level(14, load, 180, 20) == pytest.approx(0.8884, abs=5e-5)
    assert answer_speed_s(14, load, 180) == pytest.approx(7.84, abs=5e-3)
    assert service_level(13, load, 180, 20) < 0.8  # 14 is the fewest


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_one_and_two_agents_match_their_closed_forms(rho: float) -> None:
    """M/M/1 waits with probability rho; M/M/2 with 2 rho^2 / (1 + rho)."""
    assert erlang_c(1, rho) == pytest.approx(rho)
    assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))


def _erlang_c_by_factorials(agents: int, load: Fraction) -> Fraction:
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


@given(st.integers(1, 60), st.fractions(Fraction(1, 100), Fraction(59, 1), max_denominator=100))
def test_the_recursion_equals_the_factorial_formula(agents: int, load: Fraction) -> None:
    if load >= agents:
        assert erlang_c(agents, float(load)) == 1.0
        return
    assert erlang_c(agents, float(load)) == pytest.approx(
        float(_erlang_c_by_factorials(agents, load)), rel=1e-9
    )


def test_thousands_of_agents_stay_finite() -> None:
    need = staffing(4000.0, 300.0, 20.0, 0.9, 4000)
    assert 4000 < need.required_agents < 4200
    assert need.predicted_service_level == 0.0 and need.predicted_answer_speed_s is None  # N = A
    assert 0.9 <= service_level(need.required_agents, 4000.0, 300.0, 20.0) < 1


def test_staffed_above_and_below_the_need() -> None:
    short, spare = staffing(10.0, 180.0, 20.0, 0.8, 12), staffing(10.0, 180.0, 20.0, 0.8, 16)
    assert (short.gap_agents, spare.gap_agents) == (2, -2)
    assert short.predicted_service_level < 0.8 < spare.predicted_service_level
    assert spare.predicted_answer_speed_s is not None and short.predicted_answer_speed_s is not None
    assert spare.predicted_answer_speed_s < short.predicted_answer_speed_s


def test_no_load_needs_one_agent_and_a_target_of_one_ends() -> None:
    assert required_agents(0.0, 180.0, 20.0, 0.8) == 1
    assert required_agents(5.0, 180.0, 0.0, 1.0) > 5  # SL reaches 1.0 in floating point


def test_a_load_beyond_any_center_is_not_staffed() -> None:
    """An hour-long handle time on thousands of calls a minute (a feed gone wrong): no answer,
    rather than a snapshot spent counting millions of agents."""
    values = WindowValues((0,) * 30)
    sums = list(values.sums)
    sums[rules.OFFERED], sums[rules.HANDLED], sums[rules.HANDLE_US] = 10**6, 1, 3600 * 10**6
    queue = QueueSnapshot("q", 20.0, 0.8, {"5m": WindowValues(tuple(sums))}, values, (), 0, 0.0, {})
    assert replace(queue, rolling_seconds={"5m": 300.0}).staffing("5m") is None
    sums[rules.OFFERED] = 100
    fine = QueueSnapshot("q", 20.0, 0.8, {"5m": WindowValues(tuple(sums))}, values, (), 0, 0.0, {})
    assert replace(fine, rolling_seconds={"5m": 300.0}).staffing("5m") is not None
