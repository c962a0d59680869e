from __future__ import annotations

from typing import get_args

from metrics.visits import Handling, Visit, VisitFields, new_visit, told_of_caller


def _visit() -> Visit:
    return Visit("c1", "sales", 30, 0, "answered", 12, (Handling(30, 18),), (25,), None, None, (30, 5, 9, 2))


def test_the_typed_fields_are_the_visits_fields_in_order() -> None:
    # new_visit takes a plain tuple: a field added to Visit must be added to VisitFields too
    assert len(get_args(VisitFields)) == len(Visit._fields)
    assert new_visit(tuple(_visit())) == _visit()  # type: ignore[arg-type]


def test_told_of_caller_changes_only_what_the_callers_step_tells() -> None:
    told = told_of_caller(_visit(), (0, True), 40)
    assert type(told) is Visit
    assert told == _visit()._replace(identified=(0, True), last_us=40)
