"""The Prometheus text exposition of a snapshot, written directly.

The same bytes as prometheus_client's ``generate_latest`` makes of the same families (a test
checks it against a collector kept with the tests as an oracle), many times faster: 500
queues with 5,000 agents are 172 thousand samples, and prometheus_client builds a sample
object and formats a label dict for each.
Here each queue's label text is escaped once and each line is one f-string. Usage::

    text = render(snapshot)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from operator import itemgetter
from typing import cast

from metrics import rules
from metrics.erlang import Staffing
from metrics.snapshot import AgentSnapshot, QueueSnapshot, Snapshot, WindowValues
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
    Row,
    agent_families,
    flow_out_reasons_seen,
    has_callers,
    has_surveys,
    pipeline_families,
)
from stream.exporter.numbers import number, numbers

Lines = list[str]
_VALUE = itemgetter(1)  # of a (labels, value) row
Queues = tuple[QueueSnapshot, ...]


def escape(value: str) -> str:
    """A label value escaped as prometheus_client escapes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def render(snapshot: Snapshot) -> bytes:
    """The whole ``/metrics`` page for ``snapshot``."""
    return render_with(snapshot, agents_text(snapshot.agents, snapshot.agent_export, snapshot.agents_at_us))


def render_with(snapshot: Snapshot, agent_part: bytes, worker_part: bytes = b"") -> bytes:
    """The page with its agent families already rendered (the worker renders them in slices,
    :mod:`stream.exporter.agent_page`), and families only the worker has."""
    return b"".join(page_parts(snapshot, agent_part, worker_part))


def page_parts(snapshot: Snapshot, agent_part: bytes, worker_part: bytes = b"") -> list[bytes]:
    """:func:`render_with`'s page in parts, in order. The worker writes them as they are:
    joined, they were a copy of the whole page (15.6 MB at 500 queues and 5,000 agents) in
    memory fresh from the system, a tenth of the time of a scrape."""
    return [part for section in page_sections(snapshot, agent_part, worker_part) for part in section]


def page_sections(snapshot: Snapshot, agent_part: bytes, worker_part: bytes = b"") -> Iterator[list[bytes]]:
    """:func:`page_parts` a section at a time (a few families each): the worker gives its
    event loop a turn between sections, as a whole page takes 0.1 s at 500 queues."""
    queues = snapshot.queues
    labels = [f'queue="{escape(q.queue)}"' for q in queues]
    for write in _QUEUE_SECTIONS:
        out: Lines = []
        write(out, queues, labels)
        yield list(encoded(out))
    yield [agent_part]
    tail: Lines = []
    _pipeline(tail, snapshot)
    yield [*encoded(tail), worker_part]


def agents_text(agents: tuple[AgentSnapshot, ...], export: str, at_us: int | None) -> bytes:
    """The agent-keyed families of ``agents``, read at ``at_us``."""
    out: Lines = []
    family_lines(out, agent_families(agents, export))
    agents_time(out, export, at_us)
    return b"".join(encoded(out))


def encoded(chunks: Lines) -> Iterator[bytes]:
    """The chunks as bytes: joining megabytes of text and then encoding it made two more
    copies of the page, each in new pages the kernel had to map and zero (12 ms of a 60 ms
    render at 500 queues and 5,000 agents)."""
    return (chunk.encode() for chunk in chunks)


def agents_time(out: Lines, export: str, at_us: int | None) -> None:
    """The instant of the agent families, when there are any."""
    if export != "off" and at_us is not None:
        name = AGENT_SNAPSHOT_TIME[0]
        _header(out, name, "gauge", AGENT_SNAPSHOT_TIME[1])
        out.append(f"{name} {number(at_us / US)}\n")


def _header(out: Lines, name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")


def _lines(out: Lines, name: str, labels: Sequence[str], values: Sequence[float]) -> None:
    """One line per sample of ``name``: ``labels`` are each one's label text, with its braces
    and a space after. The parts of all lines are set in one list by slices and joined once:
    a third of the time of a string made per line, which allocators also pay for."""
    texts = numbers(values)
    parts = [name, "", "", "\n"] * len(texts)
    parts[1::4], parts[2::4] = labels, texts  # a ValueError if their lengths differ
    out.append("".join(parts))


def _present(out: Lines, name: str, labels: list[str], values: list[float | None]) -> None:
    """Lines of ``name`` for the values that are not ``None`` (undefined: 0 / 0)."""
    if None in values:
        kept = [i for i, value in enumerate(values) if value is not None]
        labels, values = [labels[i] for i in kept], [values[i] for i in kept]
    _lines(out, name, labels, cast(list[float], values))


class Samples:
    """A family's samples as they are gathered: each one's label text (braces and the space
    after included) and its value, in two lists (cheaper than a pair per sample).

    >>> samples = Samples()
    >>> samples.add('{queue="a"} ', 2)
    >>> out = []
    >>> samples.write(out, "calls")
    >>> out
    ['calls{queue="a"} 2.0\\n']
    """

    __slots__ = ("labels", "values")

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.values: list[float | None] = []

    def add(self, labels: str, value: float | None) -> None:
        self.labels.append(labels)
        self.values.append(value)

    def extend(self, labels: Iterable[str], values: Iterable[float | None]) -> None:
        self.labels += labels
        self.values += values

    def write(self, out: Lines, name: str) -> None:
        """The lines of ``name``, leaving out values that are ``None`` (undefined: 0 / 0)."""
        _present(out, name, self.labels, self.values)


def _window_series(queues: Queues, labels: list[str]) -> tuple[list[str], list[WindowValues]]:
    """Each (queue, window)'s label text, written once for every family (most of the page's
    samples), and its values."""
    at: list[str] = []
    values: list[WindowValues] = []
    for q, label in zip(queues, labels, strict=True):
        at += [f'{{{label},window="{w}"}} ' for w in q.windows]
        values += q.windows.values()
    return at, values


def _window_counts(out: Lines, queues: Queues, labels: list[str]) -> None:
    at, values = _window_series(queues, labels)
    for suffix, slot, text in COUNTS:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        _lines(out, name, at, [v.sums[slot] for v in values])


def _window_ratios(out: Lines, queues: Queues, labels: list[str]) -> None:
    at, values = _window_series(queues, labels)
    for suffix, derive, text in DERIVED:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        _present(out, name, at, list(map(derive, values)))


def _by_reason(out: Lines, queues: Queues, labels: list[str]) -> None:
    name = FLOWED_OUT_BY_REASON[0]
    _header(out, name, "gauge", FLOWED_OUT_BY_REASON[1])
    samples = Samples()
    for q, label in zip(queues, labels, strict=True):
        seen = flow_out_reasons_seen(q)
        for window, sums in q.windows.items() if seen else ():
            counts = sums.flowed_out_by_reason()
            samples.extend(
                [f'{{{label},reason="{r}",window="{window}"}} ' for r in seen], map(counts.get, seen)
            )
    samples.write(out, name)


def _survey_responses(out: Lines, queues: Queues, labels: list[str]) -> None:
    name = SURVEY_RESPONSES[0]
    _header(out, name, "gauge", SURVEY_RESPONSES[1])
    samples = Samples()
    for q, label in zip(queues, labels, strict=True):
        for window, sums in q.windows.items() if has_surveys(q) else ():
            answers = sums.survey_responses()
            samples.extend(
                [f'{{{label},survey="{s}",window="{window}"}} ' for s in answers], answers.values()
            )
    samples.write(out, name)


def _repeat_counts(out: Lines, queues: Queues, labels: list[str]) -> None:
    at: list[str] = []
    windows: list[WindowValues] = []
    for q, label in zip(queues, labels, strict=True):
        if has_callers(q):
            at += [f'{{{label},window="{w}"}} ' for w in q.windows]
            windows += q.windows.values()
    for suffix, count, text in REPEAT_COUNTS:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        _lines(out, name, at, list(map(count, windows)))


def _staffing(out: Lines, queues: Queues, labels: list[str]) -> None:
    at: list[str] = []
    needs: list[Staffing] = []
    for q, label in zip(queues, labels, strict=True):
        for w in q.rolling_seconds:
            if (need := q.staffing(w)) is not None:
                at.append(f'{{{label},window="{w}"}} ')
                needs.append(need)
    for suffix, value_of, text in STAFFING:
        name = f"callcenter_{suffix}"
        _header(out, name, "gauge", text)
        _present(out, name, at, list(map(value_of, needs)))


def _current(out: Lines, queues: Queues, labels: list[str]) -> None:
    each = [f"{{{label}}} " for label in labels]
    for name, text, value_of in PER_QUEUE:
        _header(out, name, "gauge", text)
        _lines(out, name, each, [value_of(q) for q in queues])
    name = AGENTS[0]
    _header(out, name, "gauge", AGENTS[1])
    samples = Samples()
    for q, label in zip(queues, labels, strict=True):
        samples.extend([f'{{{label},state="{state}"}} ' for state in q.agents], q.agents.values())
    samples.write(out, name)
    name = QUEUE_INFO[0]
    _header(out, name, "gauge", QUEUE_INFO[1])
    for q, label in zip(queues, labels, strict=True):
        out.append(f'{name}{{{label},timezone="{escape(q.timezone)}"}} 1.0\n')


def _queue_agents(out: Lines, queues: Queues, labels: list[str]) -> None:
    """The queues' agent time: occupancy, agent seconds by state, agents away by reason."""
    occupancy, seconds, away = Samples(), Samples(), Samples()
    for q, label in zip(queues, labels, strict=True):
        for w, by_state in q.agent_seconds.items():
            occupancy.add(f'{{{label},window="{w}"}} ', q.occupancy_ratio(w))
            seconds.extend(
                [f'{{{label},state="{state}",window="{w}"}} ' for state in by_state], by_state.values()
            )
        for reason, count in sorted(q.away_by_reason.items()):
            away.add(f'{{{label},reason="{escape(reason)}"}} ', count)
    for (name, text), samples in (
        (QUEUE_OCCUPANCY, occupancy),
        (QUEUE_AGENT_SECONDS, seconds),
        (AGENTS_AWAY, away),
    ):
        _header(out, name, "gauge", text)
        samples.write(out, name)


def _totals(out: Lines, queues: Queues, labels: list[str]) -> None:
    each = [f"{{{label}}} " for label in labels]
    for family, slot in TOTALS:
        name = f"{family}_total"
        _header(out, name, "counter", f"All-time count: {family.removeprefix('callcenter_')}")
        _lines(out, name, each, [q.total.sums[slot] for q in queues])


def _histogram(out: Lines, queues: Queues, labels: list[str]) -> None:
    name = WAIT_HISTOGRAM[0]
    _header(out, name, "histogram", WAIT_HISTOGRAM[1])
    bounds_text: dict[tuple[float, ...], list[str]] = {}  # queues mostly share their bounds
    samples = Samples()
    for q, label in zip(queues, labels, strict=True):
        bounds = bounds_text.get(q.wait_bounds_seconds)
        if bounds is None:
            bounds = bounds_text[q.wait_bounds_seconds] = [
                *map(repr, map(float, q.wait_bounds_seconds)),
                "+Inf",
            ]
        total = q.total.sums
        histogram_series(samples, name, label, bounds, total[rules.HISTOGRAM :], total[rules.WAIT_US] / US)
    samples.write(out, "")


def histogram_lines(
    out: Lines, name: str, label: str, bounds: list[str], counts: Iterable[int], total: float
) -> None:
    """The lines of one histogram series (:func:`histogram_series`)."""
    samples = Samples()
    histogram_series(samples, name, label, bounds, counts, total)
    samples.write(out, "")


def histogram_series(
    samples: Samples, name: str, label: str, bounds: list[str], counts: Iterable[int], total: float
) -> None:
    """Adds one histogram series to ``samples`` (each one's name and labels, and value): its
    buckets made cumulative (``bounds`` as written, the last ``+Inf``), its count and its sum."""
    cumulative = list(accumulate(counts))
    bucket = f"{name}_bucket"
    samples.extend([f'{bucket}{{le="{le}",{label}}} ' for le in bounds], cumulative)
    samples.extend(
        (f"{name}_count{{{label}}} ", f"{name}_sum{{{label}}} "), (cumulative[-1] if cumulative else 0, total)
    )


class LabelText(dict[str, str]):
    """Label values escaped once per page (agent ids repeat in every agent family); read as
    ``esc[value]``, a plain dict lookup once a value is known.

    >>> esc = LabelText()
    >>> print(esc['say "hi"'], len(esc))
    say \\"hi\\" 1
    """

    def __missing__(self, value: str) -> str:
        text = self[value] = escape(value)
        return text


def family_lines(out: Lines, families: list[Family]) -> None:
    esc = LabelText()
    for family in families:
        family_header(out, family)
        family_rows(out, family, family.rows, esc)


def family_header(out: Lines, family: Family) -> None:
    _header(out, family.name, "gauge", family.help)


def family_rows(out: Lines, family: Family, rows: list[Row], esc: LabelText) -> None:
    """Rows of a family of one to three labels."""
    head = f'{family.name}{{{family.labels[0]}="'
    more = [f'",{key}="' for key in family.labels[1:]]
    texts = numbers(list(map(_VALUE, rows)))
    if not more:
        lines = [f'{head}{esc[a]}"}} {t}\n' for ((a,), _), t in zip(rows, texts, strict=True)]
    elif len(more) == 1:
        m1 = more[0]
        lines = [f'{head}{esc[a]}{m1}{esc[b]}"}} {t}\n' for ((a, b), _), t in zip(rows, texts, strict=True)]
    else:
        m1, m2 = more
        lines = [
            f'{head}{esc[a]}{m1}{esc[b]}{m2}{esc[c]}"}} {t}\n'
            for ((a, b, c), _), t in zip(rows, texts, strict=True)
        ]
    out.append("".join(lines))


Section = Callable[[Lines, Queues, list[str]], None]
# The page's queue families, section by section, in the page's order.
_QUEUE_SECTIONS: tuple[Section, ...] = (
    _window_counts,
    _window_ratios,
    _by_reason,
    _survey_responses,
    _repeat_counts,
    _staffing,
    _current,
    _totals,
    _histogram,
    _queue_agents,
)


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
