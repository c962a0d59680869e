"""Real-broker fixtures: one Kafka per test session, workers as real processes.

If the broker cannot start, every integration test errors (it is never skipped).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.allocator import LIBRARY
from tools.certs import Pki, make_pki
from tools.kafka_local import LocalKafka, SecureListener, free_port

REPO = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
_names = itertools.count()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[LocalKafka]:
    secure = SecureListener(free_port(), pki.keystore, "ccmetrics", "test-secret")
    broker = LocalKafka.start(tmp_path_factory.mktemp("kafka"), secure=secure)
    yield broker
    broker.stop()


def parse_samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


CALLER_SECRET = "integration tests"  # every worker's and replay's: repeat calls on


@dataclass
class Tenant:
    """One isolated set of topics and one consumer group on the shared broker."""

    kafka: LocalKafka
    workdir: Path
    prefix: str
    app_id: str
    workers: list[Worker] = field(default_factory=list)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)  # ended by the fixture
    settings: dict[str, str] = field(default_factory=dict)  # more CCMETRICS_* for every process
    metrics_ca: Path | None = None  # scrape /metrics over HTTPS, trusting this CA
    metrics_auth: tuple[str, str] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "CCMETRICS_KAFKA_SERVERS": self.kafka.bootstrap,
            "CCMETRICS_TOPIC_PREFIX": self.prefix,
            "CCMETRICS_APP_ID": self.app_id,
            "CCMETRICS_LOG_LEVEL": os.environ.get("TEST_WORKER_LOG_LEVEL", "warning"),
            "CCMETRICS_CALLER_HASH_SECRET": CALLER_SECRET,  # repeat calls on, as in replay()
            **self.settings,
            **extra,
        }

    def ccmetrics(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "stream.cli", *args]
        return subprocess.run(
            command, env=self.env(), cwd=REPO, capture_output=True, text=True, timeout=timeout
        )

    def ccmetrics_background(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "stream.cli", *args]
        child = subprocess.Popen(
            command, env=self.env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.children.append(child)
        return child

    def start_worker(self, name: str = "w1") -> Worker:
        worker = Worker(self, name, free_port())
        self.workers.append(worker)  # before it starts: the fixture ends it, whatever happens
        worker.start()
        return worker


@dataclass
class Worker:
    """A ``ccmetrics worker`` process with its own data folder and port."""

    tenant: Tenant
    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        folder = self.tenant.workdir / self.name
        folder.mkdir(exist_ok=True)
        env = self.tenant.env(CCMETRICS_METRICS_PORT=str(self.port), CCMETRICS_DATA_DIR=str(folder / "data"))
        log = (folder / "worker.log").open("ab")
        command = [sys.executable, "-m", "stream.cli", "worker"]
        self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 90, f"worker {self.name} to serve /metrics")
        maps = Path(f"/proc/{self.process.pid}/maps").read_text()
        assert LIBRARY in maps, "the worker runs without jemalloc: is libjemalloc2 installed (make test)?"

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited: {self.log_tail()}")
        try:
            return "callcenter_snapshot_timestamp_seconds" in self.scrape_text()
        except OSError:
            return False

    def scrape_text(self, auth: bool = True) -> str:
        return self.get("/metrics", auth).decode()

    def get(self, path: str, auth: bool = True) -> bytes:
        """GET a path of the worker's HTTP side; raises ``HTTPError`` for a status of 400 or more."""
        scheme = "https" if self.tenant.metrics_ca else "http"
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}{path}")
        if self.tenant.metrics_auth and auth:
            token = base64.b64encode(":".join(self.tenant.metrics_auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = (
            ssl.create_default_context(cafile=str(self.tenant.metrics_ca)) if self.tenant.metrics_ca else None
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return bytes(response.read())

    def status(self, path: str, auth: bool = True) -> int:
        try:
            self.get(path, auth)
        except urllib.error.HTTPError as error:
            return error.code
        return 200

    def scrape(self) -> Samples:
        return parse_samples(self.scrape_text())

    def log_tail(self) -> str:
        return "\n".join((self.tenant.workdir / self.name / "worker.log").read_text().splitlines()[-40:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def tenant(kafka: LocalKafka, tmp_path: Path) -> Iterator[Tenant]:
    n = next(_names)
    made = Tenant(kafka, tmp_path, prefix=f"t{n}-{os.getpid()}.", app_id=f"ccmetrics-t{n}-{os.getpid()}")
    try:
        yield made
    finally:
        for worker in made.workers:
            worker.stop(signal.SIGKILL)
        for child in made.children:
            child.kill()
            child.wait()


def consume(
    kafka: LocalKafka, topic: str, count: int, timeout: float = 30
) -> list[tuple[bytes | None, bytes]]:
    """Read ``count`` messages from the start of ``topic``."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        found: list[tuple[bytes | None, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                found += [(m.key, m.value) for msgs in batches.values() for m in msgs if m.value is not None]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(run())


def create_topic(tenant: Tenant, name: str, config: dict[str, str], partitions: int = 4) -> None:
    """Make a topic with topic-level settings before a worker would make it with defaults."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=tenant.kafka.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
        finally:
            await admin.close()

    asyncio.run(run())
