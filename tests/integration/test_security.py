"""Kafka over TLS with SASL, /metrics behind TLS and basic auth, and no caller anywhere."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import Tenant, Worker
from tests.integration.histories import PIPELINE_ONLY, converges_to_replay, simulated_lines, write
from tools.certs import Pki

pytestmark = pytest.mark.kafka
CALLER = "+972501234567"


def with_caller(lines: list[bytes]) -> list[bytes]:
    """The same events, with the personal ``caller`` field on every call.queued."""
    result = []
    for line in lines:
        event = orjson.loads(line)
        if event["type"] == "call.queued":
            event["data"]["caller"] = CALLER
        result.append(orjson.dumps(event))
    return result


def sasl_ssl(tenant: Tenant, pki: Pki, password: str | None = None) -> dict[str, str]:
    """Settings that reach the test broker's SASL_SSL listener (its password unless given)."""
    secure = tenant.kafka.secure
    assert secure is not None
    return {
        "CCMETRICS_KAFKA_SERVERS": secure.bootstrap,
        "CCMETRICS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CCMETRICS_KAFKA_SASL_MECHANISM": "PLAIN",
        "CCMETRICS_KAFKA_SASL_USERNAME": secure.username,
        "CCMETRICS_KAFKA_SASL_PASSWORD": secure.password if password is None else password,
        "CCMETRICS_KAFKA_SSL_CAFILE": str(pki.ca),
    }


def test_tls_sasl_to_kafka_and_a_protected_metrics_endpoint(tenant: Tenant, pki: Pki, tmp_path: Path) -> None:
    tenant.settings = {
        **sasl_ssl(tenant, pki),
        "CCMETRICS_METRICS_TLS_CERTFILE": str(pki.cert),
        "CCMETRICS_METRICS_TLS_KEYFILE": str(pki.key),
        "CCMETRICS_METRICS_USERNAME": "prometheus",
        "CCMETRICS_METRICS_PASSWORD": "scrape-secret",
    }
    tenant.metrics_ca, tenant.metrics_auth = pki.ca, ("prometheus", "scrape-secret")
    history = write(tmp_path / "history.jsonl", with_caller(simulated_lines(minutes=15, seed=51)))
    worker = tenant.start_worker()
    published = tenant.ccmetrics("publish", str(history))
    assert published.returncode == 0, published.stderr
    converges_to_replay(worker.scrape, [history], ignore=PIPELINE_ONLY)
    with pytest.raises(urllib.error.HTTPError) as refused:
        worker.scrape_text(auth=False)
    assert refused.value.code == 401
    assert CALLER not in worker.scrape_text()
    assert CALLER not in (tenant.workdir / worker.name / "worker.log").read_text()
    the_http_side_serves_only_what_is_documented_and_only_with_credentials(tenant, worker, history)


def the_http_side_serves_only_what_is_documented_and_only_with_credentials(
    tenant: Tenant, worker: Worker, history: Path
) -> None:
    """faust's own pages (``/router``, ``/table``, ...) gave away host names and call ids; ``/``
    is the wallboard now, not faust's index."""
    call_id = orjson.loads(history.read_bytes().splitlines()[0])["data"]["call_id"]
    undocumented = [f"/router/calls/{call_id}/", f"/table/calls/{call_id}/", "/table/nosuch/x/"]
    undocumented += ["/stats/", "/graph/", "/performance/", "/favicon.ico", "/index.html"]
    documented = ["/metrics", "/healthz", "/readyz", "/api/v1/agents", "/api/v1/queues"]
    documented += ["/", "/wallboard.js", "/wallboard.css"]
    assert {path: worker.status(path, auth=False) for path in documented + undocumented} == dict.fromkeys(
        documented + undocumented, 401
    )
    assert {path: worker.status(path) for path in undocumented} == dict.fromkeys(undocumented, 404)
    assert {path: worker.status(path) for path in documented} == dict.fromkeys(documented, 200)
    assert orjson.loads(worker.get("/readyz"))["ready"] is True
    agents = orjson.loads(worker.get("/api/v1/agents"))["agents"]
    assert agents and {"agent", "state", "reason", "since", "queues", "windows"} <= agents[0].keys()
    assert b"<title>ccmetrics wallboard</title>" in worker.get("/")  # over TLS, with credentials
    log = (tenant.workdir / worker.name / "worker.log").read_text()
    assert "Traceback" not in log and call_id not in log


def test_a_wrong_kafka_password_is_refused(tenant: Tenant, pki: Pki, tmp_path: Path) -> None:
    tenant.settings = sasl_ssl(tenant, pki, password="not-the-password")
    history = write(tmp_path / "one.jsonl", simulated_lines(minutes=1, seed=52)[:1])
    refused = tenant.ccmetrics("publish", str(history), timeout=120)
    assert refused.returncode != 0
    assert "Authentication failed" in refused.stderr or "SASL" in refused.stderr
