"""The directly written exposition is byte for byte what prometheus_client writes."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from stream.exporter.text import render
from tests.collector_oracle import SnapshotCollector
from tests.strategies import History, histories, instants


def library_text(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot))
    return generate_latest(registry)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_page_equals_prometheus_clients_for_random_histories(data: st.DataObject) -> None:
    history: History = data.draw(histories())
    engine = Engine(history.settings)
    for event in history.events:
        engine.apply(event)
    engine.stats.rejected("bad_json")
    snapshot = engine.snapshot(data.draw(instants(history))[-1])
    assert render(snapshot) == library_text(snapshot)


def test_odd_queue_names_big_numbers_and_lag_render_alike() -> None:
    engine = Engine(Settings())
    odd_name = 'sales "eu"\\\nüñí'
    engine.apply(Event("e1", "call.queued", 1_767_614_000_000_000, "test", call_id="c1", queue=odd_name))
    snapshot = engine.snapshot(1_767_614_400_000_000)
    queue = replace(
        snapshot.queues[0],
        waiting=12_345,
        longest_wait_seconds=1_234_567.5,
        agents={"available": 10_001, "on_call": 0},
    )
    pipeline = replace(
        snapshot.pipeline, lag_by_topic={"callcenter.calls": 7}, events_by_type={"call.queued": 10**9}
    )
    odd = Snapshot(snapshot.at_us, (queue,), pipeline)
    assert render(odd) == library_text(odd)
    assert b'queue="sales \\"eu\\"\\\\\\n' in render(odd)
