"""Time parsing: the remembered-pieces fast path agrees with a full parse, valid or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.timeutil import US, clear_time_caches, parse_rfc3339_us

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _reference_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _rfc3339(moment: datetime, digits: int, offset_minutes: int) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    local = moment.astimezone(zone)
    fraction = f".{local.microsecond:06d}"[: digits + 1] if digits else ""
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    suffix = "Z" if offset_minutes == 0 and digits % 2 else f"{sign}{hours:02d}:{minutes:02d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + suffix


moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(st.lists(st.tuples(moments, st.integers(0, 6), st.sampled_from([0, 60, -300, 330, 840])), max_size=20))
def test_times_parse_exactly_whether_or_not_their_pieces_were_seen(
    times: list[tuple[datetime, int, int]],
) -> None:
    clear_time_caches()
    for moment, digits, offset in times * 2:  # the second round reads remembered pieces
        truncated = moment.replace(microsecond=moment.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))
        assert parse_rfc3339_us(_rfc3339(moment, digits, offset)) == _reference_us(truncated)


@pytest.mark.parametrize(
    "text",
    [
        "1999-02-01T04:59:60Z",
        "1999-02-01T04:60:00Z",
        "1999-02-01T04:59:5Z",
        "1999-02-01T04:59:53",
        "1999-02-01T04:59:53+0200",
        "1999-02-01T04:5\uff19:53Z",
        "1999-02-01T04:59:53.Z",
        "1999-02-01T04:59:53.1234567890Z",
        "1999-02-01T04:59:53.12a4Z",
        "1999-02-01T04:59:53.\u0661\u0662Z",
        "1999-02-01T04:59:53,5Z",
        "1999-02-01T04:59:53.5+02:0",
        "1999-02-01T04:59:53.5+02:00Z",
    ],
)
def test_invalid_times_are_refused_even_when_their_hour_was_seen(text: str) -> None:
    assert parse_rfc3339_us("1999-02-01T04:00:00Z") == 917_841_600 * US  # remembers the hour
    with pytest.raises(ValueError):
        parse_rfc3339_us(text)


def test_digits_past_microseconds_are_dropped_as_in_a_full_parse() -> None:
    for _ in range(2):  # cold, then from remembered pieces
        expected = _reference_us(datetime(1999, 2, 1, 9, 59, 53, 123_456, tzinfo=UTC))
        assert parse_rfc3339_us("1999-02-01T04:59:53.123456789-05:00") == expected
