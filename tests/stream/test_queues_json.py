"""``/api/v1/queues`` and ``/api/v1/agents`` follow their JSON Schemas (docs/api/) and carry the
numbers ``/metrics`` shows for the same snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
from prometheus_client.parser import text_string_to_metric_families

from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from metrics.timeutil import parse_rfc3339_us
from stream.exporter.agents_json import agents_document
from stream.exporter.queues_json import queues_document
from stream.exporter.text import render
from tests.helpers import ev

API = Path(__file__).resolve().parents[2] / "docs" / "api"
NOW = "2026-01-05T10:30:00Z"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((API / f"{name}.schema.json").read_bytes())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def a_busy_snapshot() -> Snapshot:
    engine = Engine(Settings.from_toml('[agents]\nreasons = ["Break"]'))
    events = [
        ev(
            "agent.state",
            "2026-01-05T10:00:00Z",
            agent_id="a1",
            state="available",
            queues=("sales", "support"),
        ),
        ev(
            "agent.state",
            "2026-01-05T10:00:00Z",
            agent_id="a2",
            state="away",
            reason="Break",
            queues=("sales",),
        ),
        ev("call.queued", "2026-01-05T10:20:00Z", call_id="c1", queue="sales"),
        ev("call.answered", "2026-01-05T10:20:30Z", call_id="c1", queue="sales", agent_id="a1"),
        ev("agent.state", "2026-01-05T10:20:30Z", agent_id="a1", state="on_call"),
        ev("call.queued", "2026-01-05T10:25:00Z", call_id="c2", queue="sales"),
        ev("call.abandoned", "2026-01-05T10:26:00Z", call_id="c2", queue="sales"),
        ev("call.queued", "2026-01-05T10:29:00Z", call_id="c3", queue="support"),
        ev("call.ended", "2026-01-05T10:23:30Z", call_id="c1", agent_id="a1"),
        ev("call.queued", "2026-01-05T10:21:00Z", call_id="c4", queue="sales"),
        ev("call.flowed_out", "2026-01-05T10:23:00Z", call_id="c4", queue="sales", reason="callback"),
        ev("survey.completed", "2026-01-05T10:25:00Z", call_id="c1", csat=5, nps=6),
    ]
    for event in events:
        engine.apply(event)
    return engine.snapshot(parse_rfc3339_us(NOW))


def metrics_of(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(snapshot).decode())
        for s in family.samples
    }


def test_both_documents_follow_their_schemas() -> None:
    snapshot = a_busy_snapshot()
    queues = orjson.loads(queues_document(snapshot, 30.0))
    jsonschema.validate(queues, schema("queues"), format_checker=jsonschema.FormatChecker())
    agents = orjson.loads(agents_document(snapshot.agents, snapshot.at_us))
    jsonschema.validate(agents, schema("agents"), format_checker=jsonschema.FormatChecker())
    assert [q["queue"] for q in queues["queues"]] == ["sales", "support"]
    assert queues["feed_silent_seconds"] == 60.0 and queues["newest_event"] == "2026-01-05T10:29:00Z"


def test_every_queue_number_is_the_one_on_metrics() -> None:
    snapshot = a_busy_snapshot()
    metrics, compared = metrics_of(snapshot), 0
    for queue in orjson.loads(queues_document(snapshot, 30.0))["queues"]:
        label = (("queue", queue["queue"]),)
        assert queue["waiting_calls"] == metrics[("callcenter_waiting_calls", label)]
        assert queue["longest_wait_seconds"] == metrics[("callcenter_longest_wait_seconds", label)]
        for state, count in queue["agents"].items():
            assert count == metrics[("callcenter_agents", (("queue", queue["queue"]), ("state", state)))]
        for window, values in queue["windows"].items():
            for reason, count in values.pop("flowed_out_by_reason_calls").items():
                labels = (("queue", queue["queue"]), ("reason", reason), ("window", window))
                assert count == metrics.get(("callcenter_flowed_out_by_reason_calls", labels), 0)
            for survey, count in values.pop("survey_responses").items():
                labels = (("queue", queue["queue"]), ("survey", survey), ("window", window))
                assert count == metrics.get(("callcenter_survey_responses", labels), 0)
            for name, value in values.items():
                key = (f"callcenter_{name}", (("queue", queue["queue"]), ("window", window)))
                assert value == metrics.get(key), key  # None: absent on /metrics too
                compared += 1
    assert compared >= 2 * 4 * 16
    sales = orjson.loads(queues_document(snapshot, 30.0))["queues"][0]
    assert sales["windows"]["15m"]["flowed_out_by_reason_calls"]["callback"] == 1
    assert sales["windows"]["15m"]["survey_responses"] == {"csat": 1, "nps": 1, "ces": 0}
    assert (sales["windows"]["15m"]["csat_ratio"], sales["windows"]["15m"]["nps_ratio"]) == (1.0, -1.0)
    assert sales["windows"]["15m"]["required_agents"] == 2  # A = 3 / 900 s x 180 s = 0.6; SL(1) 0.43
    assert sales["windows"]["15m"]["abandon_ratio"] == 1 / 3 and sales["agents_away"] == {"Break": 1}
