"""Sample values written many at once are written as prometheus_client writes each one."""

from __future__ import annotations

import math

import orjson
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client.utils import floatToGoString

from stream.exporter.numbers import number, numbers

EDGES = [0, -0.0, 0.0, 1e-4, 9.99e-5, -1e-5, 999_999.99, 1e6, -1e6, 1e16, 10**20, -(10**20), 9_999, 10_000]
values = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=0, max_value=20_000),
    st.booleans(),
    st.sampled_from([*EDGES, math.inf, -math.inf, math.nan]),
)


@given(st.lists(values, max_size=40))
@example([True, 1, 1.0, -0.0, 0])
@example([0.5, math.nan, 2])
@example([0.25, 1e-5])
@example([3, 10**7])
def test_numbers_are_the_librarys_text_of_each_value(sample: list[float]) -> None:
    assert numbers(sample) == [floatToGoString(v) for v in sample]
    assert [number(v) for v in sample] == [floatToGoString(v) for v in sample]


@given(
    st.lists(
        st.one_of(
            st.floats(min_value=1e-4, max_value=1e6, exclude_max=True),
            st.floats(min_value=-1e6, max_value=-1e-4, exclude_min=True),
            st.just(0.0),
        ),
        min_size=1,
    )
)
def test_orjson_writes_plain_floats_as_repr_does(sample: list[float]) -> None:
    """What the fast way relies on; an orjson upgrade that changes it fails here, by name."""
    assert orjson.dumps(sample)[1:-1].decode().split(",") == [repr(v) for v in sample]


def test_a_family_with_one_odd_value_keeps_the_others_fast_and_that_one_right() -> None:
    assert numbers([0.5, 1e-7, 2_000_000.5, math.inf]) == ["0.5", "1e-07", "2.0000005e+06", "+Inf"]
