"""The oracle of the exporter's text: the catalogue's families as prometheus_client objects.

The exporter writes its text directly (:func:`stream.exporter.text.render`); the tests check
it byte for byte against what prometheus_client's own ``generate_latest`` makes of this::

    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: engine.snapshot(now_us)))
    text = generate_latest(registry)      # the same bytes as render(engine.snapshot(now_us))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics import rules
from metrics.snapshot import QueueSnapshot, Snapshot
from metrics.timeutil import US
from stream.exporter.catalogue import (
    AGENT_SNAPSHOT_TIME,
    AGENTS,
    AGENTS_AWAY,
    COUNTS,
    DERIVED,
    FLOWED_OUT_BY_REASON,
    PER_QUEUE,
    QUEUE_AGENT_SECONDS,
    QUEUE_INFO,
    QUEUE_OCCUPANCY,
    REPEAT_COUNTS,
    SNAPSHOT_TIME,
    STAFFING,
    SURVEY_RESPONSES,
    TOTALS,
    WAIT_HISTOGRAM,
    Family,
    agent_families,
    flow_out_reasons_seen,
    has_callers,
    has_surveys,
    pipeline_families,
)

QW = ["queue", "window"]


class SnapshotCollector(Collector):
    """Exposes the snapshot returned by ``source`` (``None`` exposes nothing yet).

    >>> from prometheus_client import CollectorRegistry
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
        for agent_family in [
            *queue_agent_families(queues),
            *agent_families(snapshot.agents, snapshot.agent_export),
        ]:
            family = GaugeMetricFamily(agent_family.name, agent_family.help, labels=list(agent_family.labels))
            for values, value in agent_family.rows:
                family.add_metric(list(values), value)
            yield family
        if snapshot.agent_export != "off" and snapshot.agents_at_us is not None:
            yield GaugeMetricFamily(*AGENT_SNAPSHOT_TIME, value=snapshot.agents_at_us / US)
        for name, kind, text, samples in pipeline_families(snapshot.pipeline):
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            labels = sorted({k for sample_labels, _ in samples for k in sample_labels})
            family = family_type(name, text, labels=labels)
            for sample_labels, value in samples:
                family.add_metric([sample_labels[k] for k in labels], value)
            yield family
        yield GaugeMetricFamily(*SNAPSHOT_TIME, value=snapshot.at_us / US)


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
    family = GaugeMetricFamily(*FLOWED_OUT_BY_REASON, labels=[*QW, "reason"])
    for q in queues:
        for window, values in q.windows.items():
            for reason in flow_out_reasons_seen(q):
                family.add_metric([q.queue, window, reason], values.flowed_out_by_reason()[reason])
    yield family
    family = GaugeMetricFamily(*SURVEY_RESPONSES, labels=[*QW, "survey"])
    for q in queues:
        for window, values in q.windows.items() if has_surveys(q) else ():
            for survey, count in values.survey_responses().items():
                family.add_metric([q.queue, window, survey], count)
    yield family
    for suffix, count, text in REPEAT_COUNTS:
        family = GaugeMetricFamily(f"callcenter_{suffix}", text, labels=QW)
        for q in queues:
            for window, values in q.windows.items() if has_callers(q) else ():
                family.add_metric([q.queue, window], count(values))
        yield family
    for suffix, value_of, text in STAFFING:
        family = GaugeMetricFamily(f"callcenter_{suffix}", text, labels=QW)
        for q in queues:
            for window in q.rolling_seconds:
                need = q.staffing(window)
                found = None if need is None else value_of(need)
                if found is not None:
                    family.add_metric([q.queue, window], found)
        yield family


def _current(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    for name, text, value_of in PER_QUEUE:
        family = GaugeMetricFamily(name, text, labels=["queue"])
        for q in queues:
            family.add_metric([q.queue], value_of(q))
        yield family
    agents = GaugeMetricFamily(*AGENTS, labels=["queue", "state"])
    for q in queues:
        for state, count in q.agents.items():
            agents.add_metric([q.queue, state], count)
    yield agents
    info = GaugeMetricFamily(*QUEUE_INFO, labels=["queue", "timezone"])
    for q in queues:
        info.add_metric([q.queue, q.timezone], 1)
    yield info


def _totals(queues: tuple[QueueSnapshot, ...]) -> Iterator[Metric]:
    for name, slot in TOTALS:
        family = CounterMetricFamily(
            name, f"All-time count: {name.removeprefix('callcenter_')}", labels=["queue"]
        )
        for q in queues:
            family.add_metric([q.queue], q.total[slot])
        yield family


def _wait_histogram(queues: tuple[QueueSnapshot, ...]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(*WAIT_HISTOGRAM, labels=["queue"])
    for q in queues:
        counts = q.total.sums[rules.HISTOGRAM :]
        bounds = [*(repr(float(b)) for b in q.wait_bounds_seconds), "+Inf"]
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        family.add_metric([q.queue], buckets, q.total[rules.WAIT_US] / US)
    return family


def queue_agent_families(queues: tuple[QueueSnapshot, ...]) -> list[Family]:
    """The queues' agent time: occupancy, agent seconds by state, agents away by reason."""
    occupancy = Family(*QUEUE_OCCUPANCY, ("queue", "window"), [])
    seconds = Family(*QUEUE_AGENT_SECONDS, ("queue", "state", "window"), [])
    away = Family(*AGENTS_AWAY, ("queue", "reason"), [])
    for q in queues:
        for window, by_state in q.agent_seconds.items():
            ratio = q.occupancy_ratio(window)
            if ratio is not None:
                occupancy.rows.append(((q.queue, window), ratio))
            seconds.rows.extend(((q.queue, state, window), value) for state, value in by_state.items())
        away.rows.extend(((q.queue, reason), n) for reason, n in sorted(q.away_by_reason.items()))
    return [occupancy, seconds, away]
