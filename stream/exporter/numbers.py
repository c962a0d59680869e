"""Sample values as prometheus_client writes them: one at a time, or a family's all at once.

prometheus_client writes a value as Go does (``floatToGoString``): ``repr`` of the float, but
``+Inf``, ``-Inf``, ``NaN``, and an exponent from a million up. ``repr`` of a float costs about
0.3 µs, most of a page's time: half of the 111 thousand queue samples at 500 queues are
fractions (ratios, averages, agents' seconds). orjson writes a whole list of floats in one
call, with the same shortest digits as ``repr`` where both write plain decimals; a family
whose JSON text could differ (an exponent, a value under 1e-4 written plainly, a value that
is not finite, a magnitude of a million or more) is written value by value instead.
``tests/stream/test_numbers.py`` checks the agreement, so an orjson upgrade that changes how
it writes floats fails there, by name. Usage::

    numbers([1, 0.25, 3])   # ['1.0', '0.25', '3.0']
    number(1e6)             # '1e+06'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import orjson
from prometheus_client.utils import floatToGoString

_go_float = cast(Callable[[float], str], floatToGoString)  # the library's own number format
_SMALL = {n: _go_float(n) for n in range(10_000)}  # most counts are small
_INT = {int}
_PLAIN_BELOW = 1e6  # from here up, Go's format (and the library's) has an exponent
# In orjson's text of a float list: an exponent ("e"), a value that is not finite ("null"),
# or a value under 1e-4 written plainly ("0.0000...", which repr writes with an exponent).
# A false alarm ("10.00001") only costs the slower way.
_NOT_AS_REPR = ("e", "n", "0.0000")


def number(value: float) -> str:
    """A sample value as prometheus_client writes it."""
    if type(value) is int and 0 <= value < 10_000:
        return _SMALL[value]
    if type(value) is float and -math.inf < value < _PLAIN_BELOW:  # the library writes these as repr does
        return repr(value)
    return _go_float(value)


def numbers(values: Sequence[float]) -> list[str]:
    """``number`` of each value, made by C loops rather than a Python call per value."""
    if not values:
        return []
    if set(map(type, values)) <= _INT:  # counts (a -0.0 must not find 0's text)
        try:
            return list(map(_SMALL.__getitem__, cast(Sequence[int], values)))
        except KeyError:
            pass
    floats = list(map(float, values))
    joined = orjson.dumps(floats)[1:-1].decode()
    texts = joined.split(",")
    if _as_repr(min(floats), joined) and _as_repr(max(floats), ""):
        return texts
    return [text if _as_repr(f, text) else number(f) for f, text in zip(floats, texts, strict=True)]


def _as_repr(value: float, text: str) -> bool:
    """Whether orjson's ``text`` of values up to ``value`` (in size) is what the library writes."""
    return -_PLAIN_BELOW < value < _PLAIN_BELOW and not any(mark in text for mark in _NOT_AS_REPR)
