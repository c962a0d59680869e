"""The Prometheus text exposition of a snapshot, written directly.

The same bytes as prometheus_client's ``generate_latest`` makes of the same families (a test
checks it against a collector kept with the tests as an oracle), many times faster: 500
queues with 5,000 agents are 56 thousand samples, and prometheus_client builds a sample
object and formats a label dict for each.
Here each queue's label text is escaped once and each line is one f-string. Usage::

    text = render(snapshot)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from prometheus_client.utils import floatToGoString

from metrics import rules
from metrics.snapshot import QueueSnapshot, Snapshot
from metrics.timeutil import US
from stream.exporter.catalogue import (
    AGENTS,
    COUNTS,
    DERIVED,
    PER_QUEUE,
    QUEUE_INFO,
    SNAPSHOT_TIME,
    TOTALS,
    WAIT_HISTOGRAM,
    Family,
    agent_families,
    pipeline_families,
    queue_agent_families,
)

Lines = list[str]
Queues = tuple[QueueSnapshot, ...]
_go_float = cast(Callable[[float], str], floatToGoString)  # the library's own number format
_SMALL = {n: _go_float(n) for n in range(10_000)}  # most values are small counts


def number(value: float) -> str:
    """A sample value as prometheus_client writes it."""
    if type(value) is int and 0 <= value < 10_000:
        return _SMALL[value]
    return _go_float(value)


def escape(value: str) -> str:
    """A label value escaped as prometheus_client escapes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def render(snapshot: Snapshot) -> bytes:
    """The whole ``/metrics`` page for ``snapshot``."""
    queues = snapshot.queues
    labels = [f'queue="{escape(q.queue)}"' for q in queues]
    out: Lines = []
    _windowed(out, queues, labels)
    _current(out, queues, labels)
    _totals(out, queues, labels)
    _histogram(out, queues, labels)
    _families(out, queue_agent_families(queues))
    _families(out, agent_families(snapshot))
    _pipeline(out, snapshot)
    return "".join(out).encode()


def _header(out: Lines, name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")


def _windowed(out: Lines, queues: Queues, labels: list[str]) -> None:
    for suffix, slot, text in COUNTS:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        for q, label in zip(queues, labels, strict=True):
            out += [f'{name}{{{label},window="{w}"}} {number(v.sums[slot])}\n' for w, v in q.windows.items()]
    for suffix, derive, text in DERIVED:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        for q, label in zip(queues, labels, strict=True):
            for window, values in q.windows.items():
                value = derive(values)
                if value is not None:
                    out.append(f'{name}{{{label},window="{window}"}} {number(value)}\n')


def _current(out: Lines, queues: Queues, labels: list[str]) -> None:
    for name, text, value_of in PER_QUEUE:
        _header(out, name, "gauge", text)
        out += [f"{name}{{{label}}} {number(value_of(q))}\n" for q, label in zip(queues, labels, strict=True)]
    name = AGENTS[0]
    _header(out, name, "gauge", AGENTS[1])
    for q, label in zip(queues, labels, strict=True):
        out += [f'{name}{{{label},state="{state}"}} {number(count)}\n' for state, count in q.agents.items()]
    name = QUEUE_INFO[0]
    _header(out, name, "gauge", QUEUE_INFO[1])
    for q, label in zip(queues, labels, strict=True):
        out.append(f'{name}{{{label},timezone="{escape(q.timezone)}"}} 1.0\n')


def _totals(out: Lines, queues: Queues, labels: list[str]) -> None:
    for family, slot in TOTALS:
        name = f"{family}_total"
        _header(out, name, "counter", f"All-time count: {family.removeprefix('callcenter_')}")
        out += [
            f"{name}{{{label}}} {number(q.total.sums[slot])}\n"
            for q, label in zip(queues, labels, strict=True)
        ]


def _histogram(out: Lines, queues: Queues, labels: list[str]) -> None:
    name = WAIT_HISTOGRAM[0]
    _header(out, name, "histogram", WAIT_HISTOGRAM[1])
    for q, label in zip(queues, labels, strict=True):
        bounds = [*(repr(float(b)) for b in q.wait_bounds_seconds), "+Inf"]
        cumulative = 0
        for bound, count in zip(bounds, q.total.sums[rules.HISTOGRAM :], strict=True):
            cumulative += count
            out.append(f'{name}_bucket{{le="{bound}",{label}}} {number(cumulative)}\n')
        out.append(f"{name}_count{{{label}}} {number(cumulative)}\n")
        out.append(f"{name}_sum{{{label}}} {number(q.total.sums[rules.WAIT_US] / US)}\n")


def _families(out: Lines, families: list[Family]) -> None:
    for family in families:
        name = family.name
        _header(out, name, "gauge", family.help)
        keys = [f'{key}="' for key in family.labels]
        for values, value in family.rows:
            label_text = '",'.join(k + escape(v) for k, v in zip(keys, values, strict=True))
            out.append(f'{name}{{{label_text}"}} {number(value)}\n')


def _pipeline(out: Lines, snapshot: Snapshot) -> None:
    for family, kind, text, samples in pipeline_families(snapshot.pipeline):
        name = f"{family}_total" if kind == "counter" else family
        _header(out, name, kind, text)
        for sample_labels, value in samples:
            label_text = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(sample_labels.items()))
            out.append(
                f"{name}{{{label_text}}} {number(value)}\n" if label_text else f"{name} {number(value)}\n"
            )
    name = SNAPSHOT_TIME[0]
    _header(out, name, "gauge", SNAPSHOT_TIME[1])
    out.append(f"{name} {number(snapshot.at_us / US)}\n")
