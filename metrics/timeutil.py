"""Event-time helpers: RFC 3339 parsing, durations, local calendar days."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

US: Final = 1_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
_ONE_US: Final = timedelta(microseconds=1)
_RFC3339: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DURATION: Final = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


_MINUTES: Final = {f":{m:02d}": m * 60 * US for m in range(60)}
_SECONDS: Final = {f":{s:02d}": s * US for s in range(60)}
_CACHE_LIMIT: Final = 4096
# Instants whose local day, the day before and the day after exist in every time zone (Python's
# dates end with the years 1 and 9999): a day's start and end are computed for "today".
EARLIEST_US: Final = (datetime(1, 1, 3, tzinfo=ZoneInfo("UTC")) - _EPOCH) // _ONE_US
LATEST_US: Final = (datetime(9999, 12, 29, tzinfo=ZoneInfo("UTC")) - _EPOCH) // _ONE_US
_OUT_OF_RANGE: Final = "{!r} is outside the instants ccmetrics handles (0001-01-03 to 9999-12-29 UTC)"


# Values of the pieces of recently parsed times: "YYYY-MM-DDTHH" and the offset ("Z",
# "+02:00"). Events close in time share their hour and offsets repeat, so most times are
# dictionary lookups plus the fraction's digits instead of a full parse. Only pieces of
# valid times are kept.
_HOURS: Final[dict[str, int]] = {}
_OFFSETS: Final[dict[str, int]] = {}


def parse_rfc3339_us(text: str) -> int:
    """Parse an RFC 3339 timestamp with offset into exact epoch microseconds.

    >>> parse_rfc3339_us("1970-01-01T02:00:01.5+02:00")
    1500000
    """
    rest = text[19:]
    offset: int | None
    fraction: int | None
    if rest == "Z":  # whole seconds in UTC, as many feeds send them
        offset, fraction = 0, 0
    else:
        cut = -1 if rest[-1:] in ("Z", "z") else -6
        offset, fraction = _OFFSETS.get(rest[cut:]), _fraction_us(rest[:cut])
    hour, minute, second = _HOURS.get(text[:13]), _MINUTES.get(text[13:16]), _SECONDS.get(text[16:19])
    if hour is None or minute is None or second is None or offset is None or fraction is None:
        return _parse_and_remember(text)
    value = hour + minute + second + fraction + offset
    if not EARLIEST_US <= value <= LATEST_US:  # cached pieces of two valid times can make one out of range
        raise ValueError(_OUT_OF_RANGE.format(text))
    return value


def _fraction_us(text: str) -> int | None:
    """``""`` or ``"."`` and 1 to 9 digits, in microseconds (digits past them dropped)."""
    if not text:
        return 0
    digits = text[1:]
    if text[0] != "." or not 0 < len(digits) <= 9 or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits[:6].ljust(6, "0"))


def _parse_and_remember(text: str) -> int:
    value = _parse_full(text)  # raises for an invalid time: nothing of it is remembered
    if len(_HOURS) >= _CACHE_LIMIT or len(_OFFSETS) >= _CACHE_LIMIT:
        clear_time_caches()
    rest = text[19:]
    cut = -1 if rest[-1:] in ("Z", "z") else -6
    offset = _OFFSETS[rest[cut:]] = _parse_full("1970-01-01T00:00:00" + rest[cut:])
    fraction = _fraction_us(rest[:cut]) or 0
    _HOURS[text[:13]] = value - offset - fraction - _MINUTES[text[13:16]] - _SECONDS[text[16:19]]
    return value


def clear_time_caches() -> None:
    """Forget remembered pieces of times (benchmarks call it so every run starts cold)."""
    _HOURS.clear()
    _OFFSETS.clear()


def _parse_full(text: str) -> int:
    upper = text.upper()
    if not _RFC3339.match(upper):
        raise ValueError(f"not an RFC 3339 time with offset: {text!r}")
    try:
        moment = datetime.fromisoformat(upper)  # digits past microseconds are dropped
    except ValueError:
        raise ValueError(f"not a valid date and time: {text!r}") from None
    value = (moment - _EPOCH) // _ONE_US
    if not EARLIEST_US <= value <= LATEST_US:
        raise ValueError(_OUT_OF_RANGE.format(text))
    return value


def format_us(time_us: int) -> str:
    """Render epoch microseconds as an RFC 3339 UTC string."""
    return (_EPOCH + timedelta(microseconds=time_us)).isoformat().replace("+00:00", "Z")


def parse_duration_us(text: str) -> int:
    """Parse ``"5m"``, ``"15m"``, ``"1h"``, ``"30s"``, ``"1d"`` into microseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration like 5m, 1h or 30s: {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] * US


def local_date(time_us: int, zone: ZoneInfo) -> date:
    """The calendar day, in ``zone``, that contains the instant."""
    return datetime.fromtimestamp(time_us // US, zone).date()


def day_start_us(day: date, zone: ZoneInfo) -> int:
    """The first instant of a local calendar day, also when midnight falls in a DST gap."""
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    # fold=0 reads a skipped midnight with the offset before the jump, which is
    # exactly the instant the clock jumps: the day's real first instant.
    return int(midnight.timestamp()) * US


def next_day_start_us(day: date, zone: ZoneInfo) -> int:
    """The first instant of the local day after ``day``."""
    return day_start_us(day + timedelta(days=1), zone)
