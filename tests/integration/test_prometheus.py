"""A real Prometheus scrapes a worker fed through Kafka: every rule and panel query has data.

Prometheus runs with the project's own prometheus.yml and rules (the ones docker-compose.yml
mounts); only the target files differ.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import dashboards
from tests.integration.conftest import REPO, Tenant, create_topic, wait_for
from tests.integration.histories import BAD_LINES, produce_raw, simulated_lines, write
from tools.kafka_local import free_port

pytestmark = pytest.mark.kafka
METRIC = re.compile(r"\b(?:callcenter_|queue:|job:|agent:)[A-Za-z0-9_:]*[A-Za-z0-9_]")


class Prometheus:
    def __init__(self, folder: Path, worker_port: int) -> None:
        shutil.copytree(REPO / "prometheus", folder, ignore=shutil.ignore_patterns("targets"))
        (folder / "targets").mkdir()
        (folder / "targets" / "ccmetrics.json").write_text(
            json.dumps([{"targets": [f"127.0.0.1:{worker_port}"]}])
        )
        (folder / "targets" / "alertmanager.json").write_text("[]")
        self.port = free_port()
        command = [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=(folder / "log").open("wb")
        )

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[Any]:
        return list(self.api("query", query=expr)["result"])

    def has(self, expr: str) -> bool:
        try:
            return bool(self.query(expr))
        except OSError:
            return False


@pytest.fixture
def prometheus(tenant: Tenant, tmp_path: Path) -> Iterator[Prometheus]:
    # a rejected topic that takes no rejection record: the refusals' counter has data too
    create_topic(tenant, f"{tenant.prefix}callcenter.rejected", {"max.message.bytes": "128"})
    worker = tenant.start_worker()
    lines = simulated_lines(minutes=20, seed=21)
    first, rest = write(tmp_path / "first.jsonl", lines[:300]), write(tmp_path / "rest.jsonl", lines[300:])
    assert tenant.ccmetrics("publish", str(first)).returncode == 0
    produce_raw(tenant, BAD_LINES)  # before the first scrape: a counter born at 1 has no rate
    server = Prometheus(tmp_path / "prometheus", worker.port)
    try:
        wait_for(lambda: server.has('up{job="ccmetrics"} == 1'), 60, "Prometheus to scrape the worker")
        assert tenant.ccmetrics("publish", str(rest)).returncode == 0  # so counters move between scrapes
        wait_for(lambda: server.has("job:callcenter_events:rate1m > 0"), 60, "rates between scrapes")
        yield server
    finally:
        server.process.terminate()
        server.process.wait(20)


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((REPO / "prometheus" / "rules" / "ccmetrics.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def panel_queries() -> Iterator[tuple[str, str]]:
    for name in dashboards.BOARDS:
        board = json.loads((dashboards.FOLDER / f"{name}.json").read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield f"{name}: {panel['title']}", target["expr"]


def variable_selectors() -> Iterator[tuple[str, str]]:
    """The series selector inside each ``label_values(selector, label)`` variable query."""
    for name in dashboards.BOARDS:
        board = json.loads((dashboards.FOLDER / f"{name}.json").read_text())
        for variable in board.get("templating", {}).get("list", []):
            selector = re.fullmatch(r"label_values\((.+), \w+\)", variable["query"])
            assert selector, variable["query"]
            yield f"{name}: ${variable['name']}", selector.group(1).replace('=~"$timezone"', '=~".+"')


def concrete(expr: str, queue: str) -> str:
    """A panel query with Grafana's variables filled in."""
    return (
        expr.replace('queue=~"$queue"', 'queue=~".+"')
        .replace("$queue", queue)
        .replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
    )


def test_every_rule_and_dashboard_query_has_data(prometheus: Prometheus) -> None:
    names = set(prometheus.api("label/__name__/values"))
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    missing, empty = [], []
    for rule in rules():
        unknown = set(METRIC.findall(rule["expr"])) - names - recorded
        missing += [f"{rule.get('record') or rule['alert']}: {m}" for m in sorted(unknown)]
        prometheus.query(rule["expr"])  # every alert expression is valid PromQL on real data
        if "record" in rule and not prometheus.query(rule["record"]):
            empty.append(rule["record"])
    queue = prometheus.query("callcenter_waiting_calls")[0]["metric"]["queue"]
    for title, expr in panel_queries():
        missing += [f"{title}: {m}" for m in sorted(set(METRIC.findall(expr)) - names - recorded)]
        if not prometheus.query(concrete(expr, queue)):
            empty.append(f"{title}: {expr}")
    for title, selector in variable_selectors():
        if not prometheus.query(selector):
            empty.append(f"{title}: {selector}")
    assert missing == [], "queries name metrics that do not exist"
    assert empty == [], "queries that return no data"
