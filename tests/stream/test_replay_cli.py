"""``ccmetrics replay`` end to end: files in, Prometheus text out."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.cli import main
from stream.encode import to_json_line
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
