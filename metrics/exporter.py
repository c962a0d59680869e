"""The Prometheus exporter: a collector that renders the latest :class:`Snapshot`.

It reads a snapshot at scrape time and computes nothing else, so a scrape never waits on
the event loop. The worker and ``ccmetrics replay`` render through the same code::

    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: engine.snapshot(now_us)))
    text = generate_latest(registry)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from metrics import rules
from metrics.snapshot import PipelineSnapshot, QueueSnapshot, Snapshot, WindowValues
from metrics.timeutil import US

QW = ["queue", "window"]
COUNTS = (
    ("offered_calls", rules.OFFERED, "Calls that entered the queue"),
    ("answered_calls", rules.ANSWERED, "Calls answered"),
    (
        "abandoned_calls",
        rules.ABANDONED,
        "Calls abandoned after waiting at least the short-abandon threshold",
    ),
    ("short_abandoned_calls", rules.SHORT_ABANDONED, "Calls abandoned before the short-abandon threshold"),
    ("flowed_out_calls", rules.FLOWED_OUT, "Calls that left the queue unanswered for another reason"),
    ("service_level_met_calls", rules.SL_MET, "Service-level events that met the threshold"),
    ("service_level_counted_calls", rules.SL_COUNTED, "Service-level events counted"),
    ("handled_calls", rules.HANDLED, "Calls whose handling (talk, hold, after-call work) completed"),
    ("transferred_calls", rules.TRANSFERRED, "Calls an agent transferred out"),
    ("blocked_calls", rules.BLOCKED, "Calls rejected before they could queue"),
    ("expired_calls", rules.EXPIRED, "Calls still unresolved at the maximum call age"),
)
DERIVED: tuple[tuple[str, Callable[[WindowValues], float | None], str], ...] = (
    ("service_level_ratio", lambda w: w.service_level_ratio, "Service level, met / counted (0..1)"),
    ("answer_speed_seconds", lambda w: w.answer_speed_seconds, "Average speed of answer"),
    ("abandon_ratio", lambda w: w.abandon_ratio, "Abandoned / (answered + abandoned + flowed out)"),
    ("handle_time_seconds", lambda w: w.handle_time_seconds, "Average handle time"),
)
TOTALS = (
    ("calls_offered", rules.OFFERED),
    ("calls_answered", rules.ANSWERED),
    ("calls_abandoned", rules.ABANDONED),
    ("calls_short_abandoned", rules.SHORT_ABANDONED),
    ("calls_flowed_out", rules.FLOWED_OUT),
    ("calls_handled", rules.HANDLED),
    ("calls_transferred", rules.TRANSFERRED),
    ("calls_blocked", rules.BLOCKED),
    ("calls_expired", rules.EXPIRED),
)


class SnapshotCollector(Collector):
    """Exposes the snapshot returned by ``source`` (``None`` exposes nothing yet).

    >>> registry = CollectorRegistry()
    >>> registry.register(SnapshotCollector(lambda: None))
    """

    def __init__(self, source: Callable[[], Snapshot | None]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = self._source()
        if snapshot is None:
            return
        queues = snapshot.queues
        yield from _windowed(queues)
        yield from _current(queues)
        yield from _totals(queues)
        yield _wait_histogram(queues)
        yield from _pipeline(snapshot.pipeline)
        yield GaugeMetricFamily(
            "callcenter_snapshot_timestamp_seconds",
            "The instant these metrics describe (now)",
            value=snapshot.at_us / US,
        )


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition of one snapshot."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot))
    return generate_latest(registry)


def _windowed(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    for suffix, slot, text in COUNTS:
        family = GaugeMetricFamily(f"callcenter_{suffix}", text, labels=QW)
        for q in queues:
            for window, values in q.windows.items():
                family.add_metric([q.queue, window], values[slot])
        yield family
    for suffix, derive, text in DERIVED:
        family = GaugeMetricFamily(f"callcenter_{suffix}", text, labels=QW)
        for q in queues:
            for window, values in q.windows.items():
                value = derive(values)
                if value is not None:
                    family.add_metric([q.queue, window], value)
        yield family


def _per_queue(name: str, text: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=["queue"])
    for queue, value in values.items():
        family.add_metric([queue], value)
    return family


def _current(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    yield _per_queue(
        "callcenter_waiting_calls", "Calls waiting in the queue now", {q.queue: q.waiting for q in queues}
    )
    longest = {q.queue: q.longest_wait_seconds for q in queues}
    yield _per_queue(
        "callcenter_longest_wait_seconds", "Wait of the oldest waiting call (0 if none)", longest
    )
    agents = GaugeMetricFamily(
        "callcenter_agents", "Agents serving the queue, by state", labels=["queue", "state"]
    )
    for q in queues:
        for state, count in q.agents.items():
            agents.add_metric([q.queue, state], count)
    yield agents
    threshold = {q.queue: q.threshold_seconds for q in queues}
    yield _per_queue("callcenter_service_level_threshold_seconds", "Service-level threshold T", threshold)
    target = {q.queue: q.target_ratio for q in queues}
    yield _per_queue("callcenter_service_level_target_ratio", "Service-level target", target)
    yield from _alert_settings(queues)
    info = GaugeMetricFamily(
        "callcenter_queue_info", "Each queue's time zone (of its 'today')", labels=["queue", "timezone"]
    )
    for q in queues:
        info.add_metric([q.queue, q.timezone], 1)
    yield info


def _alert_settings(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    minimum = {q.queue: q.alert_min_counted_calls for q in queues}
    yield _per_queue(
        "callcenter_alert_min_counted_calls", "Service-level alerts need this many calls in 15m", minimum
    )
    longest = {q.queue: q.alert_longest_wait_seconds for q in queues}
    yield _per_queue("callcenter_alert_longest_wait_seconds", "Longest-wait alert threshold", longest)
    abandon = {q.queue: q.alert_abandon_ratio for q in queues}
    yield _per_queue("callcenter_alert_abandon_ratio", "Abandon-ratio alert threshold", abandon)


def _totals(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    for name, slot in TOTALS:
        family = CounterMetricFamily(f"callcenter_{name}", f"All-time count: {name}", labels=["queue"])
        for q in queues:
            family.add_metric([q.queue], q.total[slot])
        yield family


def _wait_histogram(queues: tuple[QueueSnapshot, ...]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "callcenter_answer_wait_seconds", "Wait of answered calls", labels=["queue"]
    )
    for q in queues:
        counts = q.total.sums[rules.HISTOGRAM :]
        bounds = [*(_bound(b) for b in q.wait_bounds_seconds), "+Inf"]
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        family.add_metric([q.queue], buckets, q.total[rules.WAIT_US] / US)
    return family


def _bound(seconds: float) -> str:
    return repr(float(seconds))


def _pipeline(p: PipelineSnapshot) -> Iterator[Metric]:
    yield _counter_by("callcenter_events", "Valid events accepted, by type", "type", p.events_by_type)
    yield _counter_by(
        "callcenter_events_rejected", "Invalid events, by reason", "reason", p.rejected_by_reason
    )
    yield _counter_by(
        "callcenter_events_ignored", "Events ignored (unknown type), by reason", "reason", p.ignored_by_reason
    )
    yield CounterMetricFamily(
        "callcenter_events_duplicate", "Events seen before (same id)", value=p.duplicates
    )
    yield CounterMetricFamily(
        "callcenter_event_unknown_fields", "Unknown fields ignored", value=p.unknown_fields
    )
    lag = GaugeMetricFamily(
        "callcenter_consumer_lag_messages", "Messages not yet read, by topic", labels=["topic"]
    )
    for topic in sorted(p.lag_by_topic):
        lag.add_metric([topic], p.lag_by_topic[topic])
    yield lag
    if p.last_event_us is not None:
        yield GaugeMetricFamily(
            "callcenter_last_event_timestamp_seconds",
            "Event time of the newest event seen",
            value=p.last_event_us / US,
        )


def _counter_by(name: str, text: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=[label])
    for key in sorted(values):
        family.add_metric([key], values[key])
    return family
