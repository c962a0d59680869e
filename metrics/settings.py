"""Per-queue metric settings, read from one TOML file (see docs/configuration.md).

Example::

    settings = Settings.from_toml('''
    [defaults]
    timezone = "Asia/Jerusalem"
    [queues.sales]
    service_level_threshold_seconds = 30
    ''')
    settings.for_queue("sales").service_level_threshold_seconds   # 30
    settings.for_queue("support").timezone                        # "Asia/Jerusalem"
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics.rules import SERVICE_LEVEL_RULES
from metrics.timeutil import US, parse_duration_us

STANDARD_WAIT_BUCKETS: Final = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)


class SettingsError(ValueError):
    """The configuration file is not valid; the message says where and why."""


@dataclass(frozen=True)
class QueueSettings:
    """How one queue's metrics are defined. Defaults follow the product contract."""

    timezone: str = "UTC"
    service_level_threshold_seconds: float = 20.0
    service_level_target: float = 0.8
    short_abandon_seconds: float = 5.0
    windows: tuple[str, ...] = ("5m", "15m", "1h")
    service_level_rule: str = "default"
    # Alert thresholds, exported so that one Prometheus rule serves every queue:
    alert_min_counted_calls: int = 10  # fewer service-level calls in 15m than this is noise
    alert_longest_wait_seconds: float = 120.0
    alert_abandon_ratio: float = 0.1
    alert_agent_wrap_up_seconds: float = 300.0  # an agent serving the queue in wrap-up this long
    alert_occupancy_ratio: float = 0.9  # the queue's occupancy above this for 30 minutes
    alert_csat_ratio: float = 0.75  # the queue's 1-hour CSAT below this, with enough answers
    alert_min_survey_responses: int = 20  # fewer CSAT answers in 1h than this is noise
    alert_repeat_call_ratio: float = 0.3  # the queue's 1-hour repeat-call ratio above this
    alert_min_identified_calls: int = 20  # fewer identified calls in 1h than this is noise

    def __post_init__(self) -> None:
        _check_queue_settings(self)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def threshold_us(self) -> int:
        return round(self.service_level_threshold_seconds * US)

    @cached_property
    def short_abandon_us(self) -> int:
        return round(self.short_abandon_seconds * US)

    @cached_property
    def window_us(self) -> dict[str, int]:
        """Rolling windows by label, e.g. ``{"5m": 300_000_000}``."""
        return {name: parse_duration_us(name) for name in self.windows}


@dataclass(frozen=True)
class Limits:
    """Bounds that keep memory flat: state older than these ages expires (and is counted)."""

    max_call_age_seconds: float = 4 * 3600.0
    max_agent_age_seconds: float = 12 * 3600.0
    max_clock_skew_seconds: float = 300.0  # live: events timed further ahead of now are too_early
    # An agent's events may come out of order by this much; an older one is too_late (docs/events.md).
    max_agent_disorder_seconds: float = 600.0

    def __post_init__(self) -> None:
        for item in fields(self):
            if not getattr(self, item.name) > 0:
                raise SettingsError(f"{item.name} must be above 0")

    @property
    def max_call_age_us(self) -> int:
        return round(self.max_call_age_seconds * US)

    @property
    def expire_call_after_us(self) -> int:
        """Calls are kept this long after their newest event: twice the maximum age, so that
        no event young enough to be accepted can reach a call already expired."""
        return 2 * self.max_call_age_us

    @property
    def expire_agent_after_us(self) -> int:
        """Agents are kept this long after their newest change (see ``expire_call_after_us``)."""
        return 2 * self.max_agent_age_us

    @property
    def max_clock_skew_us(self) -> int:
        return round(self.max_clock_skew_seconds * US)

    @property
    def max_agent_age_us(self) -> int:
        return round(self.max_agent_age_seconds * US)

    @property
    def max_agent_disorder_us(self) -> int:
        return round(self.max_agent_disorder_seconds * US)


@dataclass(frozen=True)
class CallerSettings:
    """Repeat calls (docs/metrics.md, "Repeat calls"): a call is a repeat if the same caller
    queued another call within ``repeat_call_window_seconds`` before it (any queue)."""

    repeat_call_window_seconds: float = 72 * 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.repeat_call_window_seconds <= 90 * 86400:
            raise SettingsError("repeat_call_window_seconds must be above 0 and at most 90 days")

    @property
    def repeat_window_us(self) -> int:
        return round(self.repeat_call_window_seconds * US)


AGENT_EXPORTS: Final = ("full", "state", "off")


@dataclass(frozen=True)
class AgentSettings:
    """How agents are shown: their time zone for ``today``, their windows, and how much of them.

    ``export``: ``"full"`` (every agent family), ``"state"`` (state, reason and since only) or
    ``"off"`` (no agent-keyed family; the queues' occupancy stays). Reasons not listed in
    ``reasons`` are shown as ``other``, so that labels stay few.
    """

    timezone: str = "UTC"
    windows: tuple[str, ...] = ("today",)
    export: str = "full"
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_zone(self.timezone)
        if self.export not in AGENT_EXPORTS:
            raise SettingsError(f"[agents] export must be one of {AGENT_EXPORTS}, not {self.export!r}")
        for window in self.windows:
            if window != "today":
                parse_duration_us(window)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def window_us(self) -> dict[str, int]:
        """The rolling windows by label (``today`` is always kept)."""
        return {name: parse_duration_us(name) for name in self.windows if name != "today"}

    def reason_label(self, reason: str | None) -> str:
        """The label of an ``away`` reason: listed ones keep their name, others are ``other``."""
        if reason is None:
            return "none"
        return reason if reason in self.reasons else "other"


@dataclass(frozen=True)
class AsteriskSettings:
    """How Asterisk's queue_log is read: ``members`` maps a member's interface (``PJSIP/1001``,
    as ADDMEMBER and REMOVEMEMBER log it) to its member name (as CONNECT and COMPLETE* log it),
    so that both kinds of line name one agent (docs/asterisk.md, "Interface or member name")."""

    members: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """All metric settings: queue defaults, per-queue overrides and limits."""

    defaults: QueueSettings = field(default_factory=QueueSettings)
    queues: dict[str, QueueSettings] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    agents: AgentSettings = field(default_factory=AgentSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    callers: CallerSettings = field(default_factory=CallerSettings)

    def for_queue(self, queue: str) -> QueueSettings:
        return self.queues.get(queue, self.defaults)

    def wait_buckets_seconds(self) -> tuple[float, ...]:
        """Histogram bounds: the standard ones plus every configured T and S."""
        every = [self.defaults, *self.queues.values()]
        configured = {s.service_level_threshold_seconds for s in every}
        configured |= {s.short_abandon_seconds for s in every}
        return tuple(sorted(set(STANDARD_WAIT_BUCKETS) | configured))

    @cached_property
    def agent_keep_us(self) -> int:
        """How long before its newest change an agent's changes are kept: long enough for late
        events, every rolling window, and events timed ahead by the allowed clock skew."""
        every = [self.defaults, *self.queues.values()]
        widest = max([0, *self.agents.window_us.values(), *(w for s in every for w in s.window_us.values())])
        limits = self.limits
        return max(limits.max_agent_disorder_us, widest) + limits.max_clock_skew_us

    @cached_property
    def agent_place_us(self) -> int:
        """How long before its newest change an agent's event can still be placed."""
        return self.limits.max_agent_disorder_us + self.limits.max_clock_skew_us

    @classmethod
    def from_toml(cls, text: str) -> Settings:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"not valid TOML: {error}") from error
        return cls.from_mapping(document)

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        """Read the TOML file at ``path``; ``None`` gives the contract's defaults."""
        if path is None:
            return cls()
        try:
            return cls.from_toml(path.read_text(encoding="utf-8"))
        except SettingsError as invalid:  # one name per exception type: mypyc types each name once
            raise SettingsError(f"{path}: {invalid}") from invalid
        except UnicodeDecodeError:
            raise SettingsError(f"{path}: not UTF-8 text") from None
        except OSError as unreadable:
            raise SettingsError(f"cannot read the settings file {path}: {unreadable.strerror}") from None

    @classmethod
    def from_mapping(cls, document: dict[str, Any]) -> Settings:
        known = {"defaults", "queues", "limits", "agents", "asterisk", "callers"}
        _reject_unknown(document, known, "top level")
        defaults = _queue_settings(QueueSettings(), _table(document, "defaults", "[defaults]"), "[defaults]")
        overrides = _table(document, "queues", "[queues]")
        queues = {
            name: _queue_settings(defaults, _table(overrides, name, f"[queues.{name}]"), f"[queues.{name}]")
            for name in overrides
        }
        limits = _build(Limits, _table(document, "limits", "[limits]"), "[limits]")
        agents = _agent_settings(_table(document, "agents", "[agents]"), defaults.timezone)
        asterisk = _asterisk_settings(_table(document, "asterisk", "[asterisk]"))
        callers = _build(CallerSettings, _table(document, "callers", "[callers]"), "[callers]")
        return cls(defaults, queues, limits, agents, asterisk, callers)


def _table(document: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be a table, not {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    """A TOML value as a sentence names it: ``the string '20'``."""
    kinds = {bool: "the boolean", str: "the string", int: "the integer", float: "the number"}
    kind = kinds.get(type(value))
    return f"{kind} {value!r}" if kind else f"a {type(value).__name__}"


def _check_types(
    kind: type[QueueSettings] | type[Limits] | type[AgentSettings] | type[CallerSettings],
    table: dict[str, Any],
    where: str,
) -> None:
    """Raise for the first value whose TOML type does not fit its setting."""
    expected = {f.name: _type_name(f.type) for f in fields(kind)}
    for name, value in table.items():
        wanted = expected[name]
        if wanted == "float" and not (_is_number(value) and math.isfinite(value)):
            raise SettingsError(f"{where} {name} must be a finite number, not {_describe(value)}")
        if wanted == "int" and type(value) is not int:
            raise SettingsError(f"{where} {name} must be a whole number, not {_describe(value)}")
        if wanted == "str" and not isinstance(value, str):
            raise SettingsError(f"{where} {name} must be a string, not {_describe(value)}")
        if wanted.startswith("tuple") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise SettingsError(f"{where} {name} must be a list of strings, not {_describe(value)}")


def _type_name(annotation: object) -> str:
    """A field's type as written ("float", "tuple[str, ...]"): a string where annotations are
    postponed, the type itself where mypyc compiled the dataclass."""
    return annotation if isinstance(annotation, str) else str(getattr(annotation, "__name__", annotation))


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _queue_settings(base: QueueSettings, table: dict[str, Any], where: str) -> QueueSettings:
    _reject_unknown(table, {f.name for f in fields(QueueSettings)}, where)
    _check_types(QueueSettings, table, where)
    values = dict(table)
    if "windows" in values:
        values["windows"] = tuple(values["windows"])
    try:
        return replace(base, **values)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{where}: {error}") from error


def _agent_settings(table: dict[str, Any], timezone: str) -> AgentSettings:
    """``[agents]``; its time zone is the ``[defaults]`` one unless it names its own."""
    values = {"timezone": timezone, **table}
    _reject_unknown(values, {f.name for f in fields(AgentSettings)}, "[agents]")
    _check_types(AgentSettings, values, "[agents]")
    for name in ("windows", "reasons"):
        if name in values:
            values[name] = tuple(values[name])
    try:
        return AgentSettings(**values)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"[agents]: {error}") from error


def _asterisk_settings(table: dict[str, Any]) -> AsteriskSettings:
    _reject_unknown(table, {"members"}, "[asterisk]")
    members = _table(table, "members", "[asterisk] members")
    for interface, name in members.items():
        if not isinstance(name, str) or not name.strip():
            raise SettingsError(
                f"[asterisk] members: {interface!r} must map to a member name, not {_describe(name)}"
            )
    return AsteriskSettings(members=dict(members))


Built = TypeVar("Built", Limits, CallerSettings)


def _build(kind: type[Built], table: dict[str, Any], where: str) -> Built:
    _reject_unknown(table, {f.name for f in fields(kind)}, where)
    _check_types(kind, table, where)
    try:
        built: Built = kind(**table)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{where}: {error}") from error
    return built


def _reject_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")


def _check_zone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SettingsError(f"timezone {timezone!r} is not an IANA time zone") from error


def _check_queue_settings(s: QueueSettings) -> None:
    _check_zone(s.timezone)
    if not 0 < s.service_level_target <= 1:
        raise SettingsError("service_level_target must be in (0, 1]")
    if not 0 <= s.alert_csat_ratio <= 1 or s.alert_min_survey_responses < 1:
        raise SettingsError("alert_csat_ratio must be in [0, 1] and alert_min_survey_responses at least 1")
    if not 0 <= s.alert_repeat_call_ratio <= 1 or s.alert_min_identified_calls < 1:
        raise SettingsError(
            "alert_repeat_call_ratio must be in [0, 1] and alert_min_identified_calls at least 1"
        )
    if s.service_level_threshold_seconds <= 0 or s.short_abandon_seconds < 0:
        raise SettingsError("thresholds must be positive seconds")
    if s.service_level_rule not in SERVICE_LEVEL_RULES:
        raise SettingsError(f"service_level_rule must be one of {tuple(SERVICE_LEVEL_RULES)}")
    if "today" in s.windows:
        raise SettingsError('"today" is always there; do not list it in windows')
    for window in s.windows:
        parse_duration_us(window)
