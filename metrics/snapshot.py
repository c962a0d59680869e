"""Immutable results read by the exporter: one :class:`Snapshot` per instant."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics import erlang, rules
from metrics.erlang import Staffing


class SurveyRatios:
    """The survey ratios of a window's survey sums (a queue's or an agent's)."""

    __slots__ = ()
    surveys: tuple[int, ...]  # :data:`metrics.rules.SURVEY_SLOTS` sums

    @property
    def csat_ratio(self) -> float | None:
        return rules.csat_ratio(self.surveys)

    @property
    def nps_ratio(self) -> float | None:
        return rules.nps_ratio(self.surveys)

    @property
    def customer_effort_score(self) -> float | None:
        return rules.customer_effort_score(self.surveys)


@dataclass(frozen=True, slots=True)
class WindowValues(SurveyRatios):
    """The sums of one window, by slot (:mod:`metrics.rules` derives the ratios from them)."""

    sums: tuple[int, ...]
    by_reason: tuple[int, ...] = ()  # flow-outs, one per :data:`metrics.rules.FLOW_OUT_REASONS`
    surveys: tuple[int, ...] = ()  # :data:`metrics.rules.SURVEY_SLOTS` sums
    repeats: tuple[int, ...] = ()  # :data:`metrics.rules.REPEAT_SLOTS` sums

    def __getitem__(self, slot: int) -> int:
        return self.sums[slot]

    def flowed_out_by_reason(self) -> dict[str, int]:
        """Flow-outs of the window by reason, every reason included."""
        counts = self.by_reason or (0,) * len(rules.FLOW_OUT_REASONS)
        return dict(zip(rules.FLOW_OUT_REASONS, counts, strict=True))

    def survey_responses(self) -> dict[str, int]:
        """Answers to each survey score in the window."""
        if not self.surveys:
            return {"csat": 0, "nps": 0, "ces": 0}
        s = self.surveys
        return {"csat": s[rules.CSAT_ANSWERS], "nps": s[rules.NPS_ANSWERS], "ces": s[rules.CES_ANSWERS]}

    @property
    def identified_calls(self) -> int:
        """Offered calls whose caller was named (and hashed: repeat calls are on)."""
        return self.repeats[rules.IDENTIFIED] if self.repeats else 0

    @property
    def repeat_calls(self) -> int:
        return self.repeats[rules.REPEATED] if self.repeats else 0

    @property
    def repeat_call_ratio(self) -> float | None:
        return rules.repeat_call_ratio(self.repeats)

    @property
    def service_level_ratio(self) -> float | None:
        return rules.service_level_ratio(self.sums)

    @property
    def answer_speed_seconds(self) -> float | None:
        return rules.answer_speed_seconds(self.sums)

    @property
    def abandon_ratio(self) -> float | None:
        return rules.abandon_ratio(self.sums)

    @property
    def handle_time_seconds(self) -> float | None:
        return rules.handle_time_seconds(self.sums)

    @property
    def transfer_ratio(self) -> float | None:
        return rules.transfer_ratio(self.sums)

    @property
    def blocked_ratio(self) -> float | None:
        return rules.blocked_ratio(self.sums)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Everything exported for one queue at one instant."""

    queue: str
    threshold_seconds: float
    target_ratio: float
    windows: dict[str, WindowValues]  # rolling windows and "today"
    total: WindowValues  # all time up to now, for the _total counters
    wait_bounds_seconds: tuple[float, ...]
    waiting: int
    longest_wait_seconds: float
    agents: dict[str, int]  # state -> agents serving this queue in it
    # window -> state -> agent seconds in the window (agents serving the queue)
    agent_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    away_by_reason: dict[str, int] = field(default_factory=dict)  # agents away now, by reason label
    alert_min_counted_calls: int = 10
    alert_longest_wait_seconds: float = 120.0
    alert_abandon_ratio: float = 0.1
    timezone: str = "UTC"
    alert_agent_wrap_up_seconds: float = 300.0
    alert_occupancy_ratio: float = 0.9
    alert_csat_ratio: float = 0.75
    alert_min_survey_responses: int = 20
    alert_repeat_call_ratio: float = 0.3
    alert_min_identified_calls: int = 20
    rolling_seconds: dict[str, float] = field(default_factory=dict)  # the rolling windows' widths

    def staffing(self, window: str) -> Staffing | None:
        """Erlang C for a rolling window (:mod:`metrics.erlang`), at the agents staffed now;
        ``None`` for ``today`` and without handled calls (no handle time) in the window."""
        width, values = self.rolling_seconds.get(window), self.windows.get(window)
        if width is None or values is None:
            return None
        load, handle_s = rules.offered_load_erlangs(values.sums, width), values.handle_time_seconds
        if load is None or handle_s is None or load > erlang.MAX_LOAD_ERLANGS:
            return None
        staffed = sum(self.agents.get(state, 0) for state in rules.STAFFED_STATES)
        return erlang.staffing(load, handle_s, self.threshold_seconds, self.target_ratio, staffed)

    def occupancy_ratio(self, window: str) -> float | None:
        """(on_call + wrap_up) / (on_call + wrap_up + available) agent seconds; None if 0 / 0."""
        return rules.occupancy_ratio(self.agent_seconds.get(window, {}))


@dataclass(frozen=True, slots=True)
class AgentWindow(SurveyRatios):
    """One agent's values in one window."""

    state_seconds: dict[str, float]
    handled: int
    handle_us: int
    transferred: int
    missed: int
    surveys: tuple[int, ...] = ()  # :data:`metrics.rules.SURVEY_SLOTS` sums

    @property
    def handle_time_seconds(self) -> float | None:
        """Average handle time of the calls handled."""
        return self.handle_us / self.handled / 1_000_000 if self.handled else None

    @property
    def occupancy_ratio(self) -> float | None:
        return rules.occupancy_ratio(self.state_seconds)


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """One agent at one instant: its state now (``None`` if unknown or gone) and its windows."""

    agent: str
    state: str | None
    reason: str | None  # the bounded label of an away reason (AgentSettings.reason_label)
    since_us: int | None
    queues: tuple[str, ...]
    windows: dict[str, AgentWindow]


@dataclass(frozen=True, slots=True)
class PipelineSnapshot:
    """Health of the event feed, counted since the process started."""

    events_by_type: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    unknown_fields: int = 0
    last_event_us: int | None = None
    lag_by_topic: dict[str, int] = field(default_factory=dict)  # messages not yet read (worker only)
    output_failures: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, reason): worker
    agent_id_forms: dict[str, int] = field(default_factory=dict)  # "interface" or "name" -> events


@dataclass(frozen=True, slots=True)
class Snapshot:
    """All queues and the pipeline at instant ``at_us``."""

    at_us: int
    queues: tuple[QueueSnapshot, ...]
    pipeline: PipelineSnapshot
    agents: tuple[AgentSnapshot, ...] = ()
    agent_export: str = "full"  # AgentSettings.export
    agents_at_us: int | None = None  # the instant the agents were read (the worker reads them apart)
