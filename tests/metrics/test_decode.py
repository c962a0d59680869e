"""Decoding contract events: valid ones, every rejection reason, fuzzing, schema agreement."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.contract import schemas
from metrics.contract.decode import decode, decode_document
from metrics.contract.events import DATA_FIELDS, MAX_EVENT_BYTES, Rejection


def envelope(event_type: str = "call.queued", **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "e1",
        "source": "pbx-eu-1",
        "type": event_type,
        "time": "1999-02-01T08:09:22+02:00",
        "data": data or {"call_id": "c1", "queue": "sales"},
    }


def raw(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


def test_a_valid_event_decodes_with_exact_time_and_never_shows_its_caller() -> None:
    decoded = decode(raw(envelope(call_id="c1", queue="sales", caller="+972501234567", priority=2)))
    assert decoded.event is not None
    assert decoded.event.time_us == 917_849_362_000_000
    assert (decoded.event.call_id, decoded.event.queue) == ("c1", "sales")
    assert decoded.event.caller == "+972501234567"  # for the calls step to hash, then gone
    assert "+972501234567" not in repr(decoded.event) and "+972501234567" not in str(decoded.event)
    assert decoded.unknown_fields == 0


def test_an_integral_number_is_an_integer_as_in_json_schema() -> None:
    assert decode(raw(envelope(call_id="c1", queue="sales", priority=3.0))).event is not None


def test_a_survey_keeps_its_scores_and_whole_floats_are_whole_numbers() -> None:
    event = decode(raw(envelope("survey.completed", call_id="c1", csat=4.0, nps=0))).event
    assert event is not None and (event.csat, event.nps, event.ces, event.queue) == (4, 0, None, None)


def test_unknown_types_are_ignored_and_unknown_fields_counted() -> None:
    unknown = decode(raw(envelope("call.sparkled", call_id="c1")))
    assert (unknown.event, unknown.type) == (None, "call.sparkled")
    document = envelope(call_id="c1", queue="sales", mood="happy")
    document["traceparent"] = "00-abc"
    assert decode(raw(document)).unknown_fields == 2


def _without(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != name}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b'{"a": "\xff\xfe"}', "bad_encoding"),
        (b"[1, 2]", "not_object"),
        (raw(_without(envelope(), "time")), "missing_field"),
        (raw(envelope(call_id="c1")), "missing_field"),
        (raw({**envelope(), "specversion": "0.3"}), "bad_specversion"),
        (raw({**envelope(), "id": ""}), "bad_field"),
        (raw({**envelope(), "id": 7}), "bad_field"),
        (raw({**envelope(), "data": "text"}), "bad_field"),
        (raw(envelope(call_id="c1", queue="q" * 200)), "bad_field"),
        (raw(envelope(call_id="c1", queue="q", priority=2.5)), "bad_field"),
        (raw(envelope("call.flowed_out", call_id="c1", queue="q", reason="bored")), "bad_field"),
        (raw(envelope("call.ended", call_id="c1", agent_id="a", wrapup="yes")), "bad_field"),
        (raw(envelope("agent.state", agent_id="a", state="dancing")), "bad_field"),
        (raw(envelope("agent.state", agent_id="a", state="away", queues="sales")), "bad_field"),
        (
            raw(envelope("agent.state", agent_id="a", state="away", queues=[f"q{n}" for n in range(101)])),
            "bad_field",
        ),
        (raw(envelope("survey.completed", call_id="c1", csat=6)), "bad_value"),
        (raw(envelope("survey.completed", call_id="c1", nps=-1)), "bad_value"),
        (raw(envelope("survey.completed", call_id="c1", ces=2.5)), "bad_value"),
        (raw(envelope("survey.completed", call_id="c1", csat=True)), "bad_value"),
        (raw(envelope("survey.completed", call_id="c1", queue="sales")), "missing_field"),
        (raw({**envelope(), "time": "1999-02-01T08:09:22"}), "bad_time"),
        (raw({**envelope(), "time": "1999-02-30T08:09:22Z"}), "bad_time"),
        (raw({**envelope(), "time": 917849362}), "bad_time"),
        (b" " * (MAX_EVENT_BYTES + 1), "too_large"),
    ],
)
def test_invalid_events_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(Rejection) as caught:
        decode(payload)
    assert caught.value.reason == reason
    assert caught.value.detail


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_rejected(payload: bytes) -> None:
    with contextlib.suppress(Rejection):
        decode(payload)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of a random type with some fields dropped or replaced by random JSON."""
    event_type = draw(st.sampled_from(sorted(DATA_FIELDS)))
    required, optional = DATA_FIELDS[event_type]
    data: dict[str, Any] = {name: "x1" for name in (*required, *optional)}
    data.update(state="away", reason="timeout", wrapup=True, queues=["q"], priority=1, csat=5, nps=0, ces=7)
    data = {k: v for k, v in data.items() if k in (*required, *optional)}
    document = {**envelope(event_type), "data": data}
    for _ in range(draw(st.integers(0, 2))):
        target = document if draw(st.booleans()) else data
        name = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[name]
        else:
            target[name] = draw(_json)
    return document


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_published_schemas_agree_with_the_decoder(document: dict[str, Any]) -> None:
    event_type = document.get("type")
    known = isinstance(event_type, str) and event_type in DATA_FIELDS
    schema = schemas.json_schema(event_type if known else "call.queued")
    valid_by_schema = jsonschema.Draft202012Validator(schema).is_valid(document)
    try:
        decoded = decode_document(document)
        accepted = decoded.event is not None
    except Rejection:
        accepted = False
    if known:
        assert accepted == valid_by_schema, json.dumps(document)


def test_committed_schema_files_are_current() -> None:
    for event_type in DATA_FIELDS:
        committed = (schemas.FOLDER / f"{event_type}.json").read_text()
        assert committed == schemas.rendered(event_type), (
            f"run: python -m metrics.contract.schemas ({event_type})"
        )
