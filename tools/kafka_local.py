"""A real single-node Apache Kafka broker (KRaft) for tests and the demo.

The jars come from Maven Central through ``kafka/pom.xml`` into a cache folder; the broker
runs with the machine's Java. Usage::

    broker = LocalKafka.start(Path(".cache/kafka-run"))
    print(broker.bootstrap)          # "127.0.0.1:NNNNN"
    broker.stop()

or from a shell: ``python -m tools.kafka_local run --port 9092`` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POM = REPO / "kafka" / "pom.xml"
DEFAULT_CACHE = REPO / ".cache" / "kafka"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}{secure_listener}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{secure_listener}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dir}
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
"""

# A TLS listener with SASL/PLAIN users, for testing Kafka security from configuration.
SECURE_PROPERTIES = """\
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=\
org.apache.kafka.common.security.plain.PlainLoginModule required user_{username}="{password}";
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
"""

LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_jars(cache: Path = DEFAULT_CACHE) -> Path:
    """Download the broker's jars once with Maven; return the folder holding them."""
    libs = cache / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if not shutil.which("mvn") or not shutil.which("java"):
        raise RuntimeError("Kafka needs `mvn` and `java` (Java 17) on PATH")
    print(f"downloading Apache Kafka jars into {libs} (once) ...", file=sys.stderr, flush=True)
    command = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"]
    subprocess.run([*command, f"-DoutputDirectory={libs}"], check=True)
    marker.touch()
    return libs


def _cluster_id() -> str:
    """A random KRaft cluster id (base64url of 16 bytes) that does not start with "-".

    kafka-storage would read such an id as an option ("argument --cluster-id/-t: expected
    one argument"): one start in 64 failed that way. Kafka's own Uuid.randomUuid skips them.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _format_storage(classpath: str, properties: Path, attempts: int = 2) -> None:
    """Format the broker's log folder with a fresh cluster id; say why if kafka-storage fails."""
    for attempt in range(1, attempts + 1):
        command = ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", _cluster_id()]
        done = subprocess.run([*command, "-c", str(properties)], capture_output=True, text=True)
        if done.returncode == 0:
            return
        why = (done.stderr or done.stdout).strip()[-2000:]
        print(f"kafka-storage format failed (attempt {attempt} of {attempts}): {why}", file=sys.stderr)
    raise RuntimeError(f"kafka-storage format failed {attempts} times; last: {why}")


@dataclass(frozen=True)
class SecureListener:
    """A ``SASL_SSL`` listener: TLS with the server key and certificate, and one PLAIN user."""

    port: int
    keystore: Path
    username: str
    password: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class LocalKafka:
    """A running broker process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    run_dir: Path
    secure: SecureListener | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        run_dir: Path,
        port: int | None = None,
        cache: Path = DEFAULT_CACHE,
        secure: SecureListener | None = None,
    ) -> LocalKafka:
        """Format a fresh log folder in ``run_dir``, start the broker, wait until it answers."""
        libs = ensure_jars(cache)
        port = port or free_port()
        properties = _write_config(run_dir, port, secure)
        classpath = f"{libs}/*"
        _format_storage(classpath, properties)
        process = _spawn_broker(classpath, run_dir, properties)
        broker = cls(process, port, run_dir, secure)
        try:
            broker.wait_ready()
        except BaseException:
            broker.stop()  # a broker that never became ready is not left running
            raise
        return broker

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Poll with an admin client until the broker serves metadata; fail loudly if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited with {self.process.returncode}: {self.log_tail()}")
            if asyncio.run(_answers(self.bootstrap)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"Kafka did not become ready in {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = (self.run_dir / "broker.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker gracefully (SIGTERM), killing it if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Stop and start the same broker on the same port and log folder."""
        self.stop()
        properties = self.run_dir / "server.properties"
        libs = ensure_jars()
        self.process = _spawn_broker(f"{libs}/*", self.run_dir, properties)
        self.wait_ready()


def _write_config(run_dir: Path, port: int, secure: SecureListener | None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir = run_dir / "kafka-logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    listener = f",SASL_SSL://127.0.0.1:{secure.port}" if secure else ""
    text = SERVER_PROPERTIES.format(
        port=port, controller_port=free_port(), log_dir=log_dir, secure_listener=listener
    )
    if secure:
        text += SECURE_PROPERTIES.format(
            username=secure.username, password=secure.password, keystore=secure.keystore
        )
    properties = run_dir / "server.properties"
    properties.write_text(text)
    log4j = LOG4J_PROPERTIES.format(log_file=run_dir / "broker.log")
    (run_dir / "log4j.properties").write_text(log4j)
    return properties


def _spawn_broker(classpath: str, run_dir: Path, properties: Path) -> subprocess.Popen[bytes]:
    log4j = f"-Dlog4j.configuration=file:{run_dir / 'log4j.properties'}"
    command = ["java", "-Xms256m", "-Xmx768m", log4j, "-cp", classpath, "kafka.Kafka"]
    stdout = (run_dir / "broker.stdout").open("ab")
    return subprocess.Popen(
        [*command, str(properties)], stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True
    )


async def _answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # "connection refused" is expected while the broker starts
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        await admin.close()
        quiet.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAFKA_PORT", "9092")))
    parser.add_argument("--run-dir", type=Path, default=REPO / ".cache" / "kafka-run")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_jars())
        return 0
    broker = LocalKafka.start(args.run_dir, args.port)
    print(f"Kafka ready on {broker.bootstrap} (log: {args.run_dir / 'broker.log'})", flush=True)
    try:
        broker.process.wait()
    except KeyboardInterrupt:
        broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
