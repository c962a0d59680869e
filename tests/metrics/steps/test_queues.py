"""The queue step's snapshots one at a time: the worker's event loop runs between them."""

from __future__ import annotations

from metrics.settings import Settings
from metrics.steps.queues import QueueStep
from metrics.timeutil import parse_rfc3339_us
from tests.helpers import engine_with_calls_waiting

NOW = parse_rfc3339_us("2026-01-05T10:30:00Z")


def test_one_at_a_time_they_are_the_snapshot_by_name() -> None:
    step = engine_with_calls_waiting("sales", "billing", "support").queue_step
    each = list(step.each_snapshot(NOW))
    assert [q.queue for q in each] == ["billing", "sales", "support"]
    assert tuple(each) == step.snapshot(NOW)


def test_a_queue_given_up_meanwhile_is_left_out_and_one_new_meanwhile_waits() -> None:
    step = QueueStep(Settings())
    for partition, queue in enumerate(("billing", "sales", "support")):
        step.state(queue, partition)
    each = step.each_snapshot(NOW)
    assert next(each).queue == "billing"
    step.keep_partitions({0, 2})  # a rebalance took the sales partition away
    step.state("new", 0)
    assert [q.queue for q in each] == ["support"]
    assert [q.queue for q in step.each_snapshot(NOW)] == ["billing", "new", "support"]
