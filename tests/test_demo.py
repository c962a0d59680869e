"""The demo's traffic, replayed: its first minute already shows a center in a busy day."""

from __future__ import annotations

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.timeutil import US
from stream.cli import build_parser
from stream.exporter.text import render
from stream.simulate import Simulation, traffic_from
from tools.demo import DEMO_CALLER_SECRET, DEMO_SIMULATION, GUIDE, first_look, parse_values

NOW = 1_767_607_200 * US


def values_after(history_seconds: float, seconds: float) -> dict[tuple[str, str, str], float]:
    """The demo's /metrics values ``seconds`` after a start with that much history."""
    args = build_parser().parse_args(["simulate", *DEMO_SIMULATION])
    engine = Engine(Settings(), caller_secret=DEMO_CALLER_SECRET.encode())
    for event in Simulation(traffic_from(args), NOW - round(history_seconds * US)).run(
        NOW + round(seconds * US)
    ):
        engine.apply(event)
    return parse_values(render(engine.snapshot(NOW + round(seconds * US))).decode())


def first_look_after(history_seconds: float, seconds: float) -> list[str]:
    """What the demo's first look lacks ``seconds`` after a start with that much history."""
    return first_look(values_after(history_seconds, seconds))


def test_with_its_hour_of_history_the_first_minute_shows_it_all() -> None:
    args = build_parser().parse_args(["simulate", *DEMO_SIMULATION])
    assert args.history == 3600
    assert first_look_after(args.history, 60) == []


def test_sales_is_the_queue_below_target_as_the_guide_says() -> None:
    """Sales below its 80 % target, agents short by Erlang C and its callers less satisfied;
    billing and support keeping up, over the first ten minutes."""
    for seconds in (60, 300, 600):
        values = values_after(3600, seconds)
        assert values[("callcenter_service_level_ratio", "sales", "15m")] < 0.75, seconds
        assert values[("callcenter_staffing_gap_agents", "sales", "15m")] > 0, seconds
        for keeping_up in ("billing", "support"):
            assert values[("callcenter_service_level_ratio", keeping_up, "15m")] >= 0.8, (keeping_up, seconds)
            assert values[("callcenter_staffing_gap_agents", keeping_up, "15m")] <= 0, (keeping_up, seconds)
            less = values[("callcenter_csat_ratio", "sales", "1h")]
            assert less < values[("callcenter_csat_ratio", keeping_up, "1h")], (keeping_up, seconds)
    guide = " ".join(GUIDE.split())
    assert "sales is understaffed" in guide and "how many agents short" in guide
    assert "billing and support keep up" in guide


def test_an_empty_center_would_not() -> None:
    assert first_look_after(0.001, 60) != []
