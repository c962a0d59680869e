"""Immutable results read by the exporter: one :class:`Snapshot` per instant."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics import rules


@dataclass(frozen=True, slots=True)
class WindowValues:
    """The sums of one window, by slot (:mod:`metrics.rules` derives the ratios from them)."""

    sums: tuple[int, ...]

    def __getitem__(self, slot: int) -> int:
        return self.sums[slot]

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
