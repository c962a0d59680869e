"""Immutable results read by the exporter: one :class:`Snapshot` per instant."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics import rules
from metrics.timeutil import US


@dataclass(frozen=True, slots=True)
class WindowValues:
    """The sums of one window, with the ratios and averages derived from them.

    A ratio or average whose denominator is zero is ``None`` (never exported as NaN).
    """

    sums: tuple[int, ...]

    def __getitem__(self, slot: int) -> int:
        return self.sums[slot]

    @property
    def service_level_ratio(self) -> float | None:
        return _ratio(self[rules.SL_MET], self[rules.SL_COUNTED])

    @property
    def answer_speed_seconds(self) -> float | None:
        return _ratio(self[rules.WAIT_US] / US, self[rules.ANSWERED])

    @property
    def abandon_ratio(self) -> float | None:
        outcomes = self[rules.ANSWERED] + self[rules.ABANDONED] + self[rules.FLOWED_OUT]
        return _ratio(self[rules.ABANDONED], outcomes)

    @property
    def handle_time_seconds(self) -> float | None:
        return _ratio(self[rules.HANDLE_US] / US, self[rules.HANDLED])


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


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
    alert_min_counted_calls: int = 10
    alert_longest_wait_seconds: float = 120.0
    alert_abandon_ratio: float = 0.1
    timezone: str = "UTC"


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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """All queues and the pipeline at instant ``at_us``."""

    at_us: int
    queues: tuple[QueueSnapshot, ...]
    pipeline: PipelineSnapshot
