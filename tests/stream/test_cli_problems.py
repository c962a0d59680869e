"""Bad settings, arguments and surroundings: one sentence naming the problem, exit 2 or 1."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stream.cli import main
from tools.kafka_local import REPO, free_port

NO_BROKER = f"127.0.0.1:{free_port()}"  # nothing listens there


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CCMETRICS_METRICS_PORT": "abc"}, "CCMETRICS_METRICS_PORT='abc' is not a whole number"),
        ({"CCMETRICS_METRICS_PORT": "70000"}, "CCMETRICS_METRICS_PORT must be a port number"),
        ({"CCMETRICS_PARTITIONS": "0"}, "CCMETRICS_PARTITIONS=0 must be at least 1"),
        ({"CCMETRICS_SNAPSHOT_INTERVAL_SECONDS": "nan"}, "CCMETRICS_SNAPSHOT_INTERVAL_SECONDS='nan'"),
        (
            {"CCMETRICS_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "CCMETRICS_KAFKA_SECURITY_PROTOCOL='TLS' must be one of",
        ),
        ({"CCMETRICS_LOG_LEVEL": "loud"}, "CCMETRICS_LOG_LEVEL='loud' must be one of"),
        (
            {"CCMETRICS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CCMETRICS_KAFKA_SASL_USERNAME": "u"},
            "set both CCMETRICS_KAFKA_SASL_USERNAME and CCMETRICS_KAFKA_SASL_PASSWORD",
        ),
        (
            {"CCMETRICS_KAFKA_SECURITY_PROTOCOL": "SSL", "CCMETRICS_KAFKA_SSL_CAFILE": "/no/ca.pem"},
            "CCMETRICS_KAFKA_SSL_CAFILE=/no/ca.pem: no such file",
        ),
        ({"CCMETRICS_METRICS_TLS_CERTFILE": "/no/cert.pem"}, "set both CCMETRICS_METRICS_TLS_CERTFILE"),
        (
            {
                "CCMETRICS_METRICS_TLS_CERTFILE": "/no/cert.pem",
                "CCMETRICS_METRICS_TLS_KEYFILE": "/no/key.pem",
            },
            "CCMETRICS_METRICS_TLS_CERTFILE=/no/cert.pem: no such file",
        ),
        ({"CCMETRICS_METRICS_USERNAME": "prometheus"}, "set both CCMETRICS_METRICS_USERNAME"),
        ({"CCMETRICS_METRICS_PROT": "6066"}, "unknown setting CCMETRICS_METRICS_PROT"),
    ],
)
def test_a_bad_environment_variable_is_named_in_one_line(
    env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["worker"]) == 2
    assert named in one_line(capsys)


def test_a_tls_file_that_is_not_a_certificate_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate\n")
    monkeypatch.setenv("CCMETRICS_METRICS_TLS_CERTFILE", str(junk))
    monkeypatch.setenv("CCMETRICS_METRICS_TLS_KEYFILE", str(junk))
    assert main(["worker"]) == 2
    assert f"CCMETRICS_METRICS_TLS_CERTFILE={junk}" in one_line(capsys)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        (
            '[defaults]\nservice_level_threshold_seconds = "20"\n',
            "must be a finite number, not the string '20'",
        ),
        ("[defaults]\nservice_level_target = nan\n", "service_level_target must be a finite number"),
        ("[defaults]\nalert_min_counted_calls = 2.5\n", "alert_min_counted_calls must be a whole number"),
        ('[defaults]\nwindows = "5m"\n', "windows must be a list of strings"),
        ("[queues]\nsales = 30\n", "[queues.sales] must be a table, not the integer 30"),
        ("defaults = 1\n", "[defaults] must be a table"),
        ("[limits]\nmax_call_age_seconds = -1\n", "max_call_age_seconds must be above 0"),
        ("[limits]\nmax_clock_skew_seconds = true\n", "max_clock_skew_seconds must be a finite number"),
    ],
)
def test_a_toml_value_of_the_wrong_type_is_named(
    toml: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ccmetrics.toml"
    config.write_text(toml)
    assert main(["worker", "--config", str(config)]) == 2
    assert named in one_line(capsys)


def test_a_missing_settings_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--config", str(tmp_path / "nosuch.toml")]) == 2
    assert f"cannot read the settings file {tmp_path / 'nosuch.toml'}: No such file" in one_line(capsys)


def test_a_metrics_port_in_use_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("CCMETRICS_METRICS_HOST", "127.0.0.1")
        monkeypatch.setenv("CCMETRICS_METRICS_PORT", str(port))
        assert main(["worker"]) == 1
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in one_line(capsys)


@pytest.mark.parametrize(
    "args",
    [["worker"], ["simulate", "--duration", "5"], ["publish", str(REPO / "config" / "ccmetrics.toml")]],
)
def test_no_broker_is_one_line_exit_1_and_nothing_left_unclosed(args: list[str], tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CCMETRICS_KAFKA_SERVERS": NO_BROKER, "CCMETRICS_DATA_DIR": str(tmp_path)}
    env["CCMETRICS_METRICS_PORT"] = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "stream.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"ccmetrics {args[0]}: cannot reach Kafka at {NO_BROKER} (CCMETRICS_KAFKA_SERVERS): "
        f'Unable connect to "{NO_BROKER}": [Errno 111] Connect call failed {tuple_of(NO_BROKER)}'
    ]


def tuple_of(address: str) -> str:
    host, port = address.split(":")
    return f"('{host}', {port})"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rate", "-5"], "--rate must be a number above 0"),
        (["--rate", "0"], "--rate must be a number above 0"),
        (["--rate", "nan"], "--rate must be a number above 0"),
        (["--patience", "0"], "--patience must be a number above 0"),
        (["--talk", "inf"], "--talk must be a number above 0"),
        (["--queues", ","], "--queues must name one or more queues"),
        (["--agents", "0"], "--agents must be a whole number from 1"),
        (["--agents", "-3"], "--agents must be a whole number from 1"),
        (["--duration", "-1"], "--duration must be a number above 0"),
        (["--start", "yesterday"], "--start: not an RFC 3339 time"),
        (["--shares", "1,2"], "--shares needs one number per queue (3), not 2"),
        (["--shares", "1,x,2"], "--shares must be numbers separated by commas"),
        (["--shares", "1,0,2"], "--shares must be a number above 0"),
        (["--history", "20000"], "--history must be a number above 0 and at most 10800"),
    ],
)
def test_simulate_checks_its_arguments(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--output", str(tmp_path / "out.jsonl"), *args]) == 2
    assert named in one_line(capsys)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", ["replay", "publish"])
def test_a_directory_is_not_an_event_file(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, str(tmp_path)]) == 2
    assert one_line(capsys) == f"ccmetrics {command}: {tmp_path} is a directory, not an event file"


@pytest.mark.parametrize("command", ["replay", "publish"])
def test_a_bad_asterisk_member_link_stops_before_anything_is_read_or_sent(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCMETRICS_KAFKA_SERVERS", NO_BROKER)
    config = tmp_path / "ccmetrics.toml"
    config.write_text('[asterisk]\nmembers = { "PJSIP/1001" = 1001 }\n')
    log = tmp_path / "queue_log"
    log.write_text("1767607200|NONE|sales|PJSIP/1001|ADDMEMBER|\n")
    assert main([command, "--format", "asterisk-queue-log", "--config", str(config), str(log)]) == 2
    assert "[asterisk] members: 'PJSIP/1001' must map to a member name, not the integer 1001" in one_line(
        capsys
    )
