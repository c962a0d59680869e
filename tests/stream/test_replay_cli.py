"""``ccmetrics replay`` end to end: files in, Prometheus text out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from metrics.settings import Settings
from stream.cli import main
from stream.encode import to_json_line
from stream.exporter.text import render
from stream.replay import replay_items
from stream.sources import read_lines
from tests.helpers import ev

EVENTS = [
    ev("call.queued", "2026-01-05T10:00:00Z", call_id="c1", queue="sales"),
    ev("call.answered", "2026-01-05T10:00:08Z", call_id="c1", queue="sales", agent_id="a1"),
    ev("call.queued", "2026-01-05T10:00:00Z", call_id="c2", queue="support"),
    ev("call.queued", "2026-01-05T10:30:00Z", call_id="late", queue="sales"),
]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(to_json_line(e) for e in EVENTS) + b"\n{broken\n")
    return path


def test_replay_prints_the_metrics_at_until(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(history), "--until", "2026-01-05T10:01:00Z"]) == 0
    out, err = capsys.readouterr()
    values = samples(out)
    assert values[("callcenter_answer_speed_seconds", (("queue", "sales"), ("window", "5m")))] == 8.0
    assert values[("callcenter_service_level_ratio", (("queue", "support"), ("window", "5m")))] == 0.0
    assert values[("callcenter_waiting_calls", (("queue", "support"),))] == 1.0
    assert values[("callcenter_events_rejected_total", (("reason", "bad_json"),))] == 1.0
    assert (
        "callcenter_answer_speed_seconds",
        (("queue", "support"), ("window", "5m")),
    ) not in values  # no NaN
    assert "NaN" not in out
    assert "rejected" in err and "1 events after --until" in err


def test_replay_defaults_to_the_newest_event(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(history)]) == 0
    values = samples(capsys.readouterr().out)
    assert values[("callcenter_snapshot_timestamp_seconds", ())] == 1767609000.0
    assert values[("callcenter_offered_calls", (("queue", "sales"), ("window", "5m")))] == 1.0


def test_replay_explains_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[defaults]\nservice_level_target = 3\n")
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["replay", str(tmp_path / "empty.jsonl"), "--config", str(bad_config)]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "service_level_target" in err


EDGES = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
]


def queued_at(time_text: str, call_id: str = "c1") -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"e-{call_id}",
            "source": "pbx",
            "type": "call.queued",
            "time": time_text,
            "data": {"call_id": call_id, "queue": "sales"},
        }
    )


@pytest.mark.parametrize("edge", EDGES)
def test_times_at_the_calendar_ends_are_rejected_with_a_reason(
    edge: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "edge.jsonl"
    events.write_bytes(queued_at(edge, "edge") + b"\n" + to_json_line(EVENTS[0]) + b"\n")
    assert main(["replay", str(events)]) == 0
    out, err = capsys.readouterr()
    assert samples(out)[("callcenter_events_rejected_total", (("reason", "bad_time"),))] == 1.0
    assert f"'{edge}' is outside the instants ccmetrics handles" in err
    assert main(["replay", str(events), "--until", edge]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ccmetrics replay: --until: '{edge}' is outside the instants ccmetrics handles "
        "(0001-01-03 to 9999-12-29 UTC)"
    ]


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    offset_minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Jerusalem"]),
)
def test_any_valid_time_is_counted_or_rejected_never_a_crash(
    moment: datetime, offset_minutes: int, zone: str
) -> None:
    sign, minutes = "+" if offset_minutes >= 0 else "-", abs(offset_minutes)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    settings_ = Settings.from_toml(f'[defaults]\ntimezone = "{zone}"\n')
    snapshot, report = replay_items(read_lines([queued_at(text)], "cloudevents", "t"), settings_)
    assert report.accepted + report.rejected_count == 1
    render(snapshot)  # "today" of the newest event, in the queue's zone, can be placed


@pytest.mark.parametrize(
    ("lines", "given", "hint"),
    [
        ([b"917849362|1|sales|NONE|ENTERQUEUE||5551234|1"], "cloudevents", "--format asterisk-queue-log"),
        ([queued_at("2026-01-05T10:00:00Z")], "asterisk-queue-log", "--format cloudevents"),
        ([b"\xff\xfe", b"hello"], "cloudevents", "it is not cloudevents input either"),
    ],
)
def test_a_file_with_every_line_rejected_says_which_format_it_looks_like(
    lines: list[bytes], given: str, hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events"
    events.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["replay", str(events), "--format", given]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"ccmetrics replay: {events}: every line was rejected; " in err and hint in err


def test_a_file_of_junk_among_valid_files_is_noted_and_counted(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"{not json\n\xff\xfe\n")
    assert main(["replay", str(history), str(junk)]) == 0
    out, err = capsys.readouterr()
    assert samples(out)[("callcenter_events_rejected_total", (("reason", "bad_json"),))] == 2.0
    assert f"note: every line of {junk} was rejected" in err
