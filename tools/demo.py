"""``make demo``: Kafka, the worker and the simulator on this machine; Ctrl-C stops them all.

Prints where to look, then a small text wallboard every few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tools.kafka_local import REPO, LocalKafka, free_port
from tools.processes import stop_all

RUN = REPO / ".cache" / "demo"
METRICS_PORT = int(os.environ.get("CCMETRICS_METRICS_PORT", "6066"))


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (RUN / f"{name}.log").open("ab")
    command = [sys.executable, "-m", "stream.cli", *args]
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def _scrape() -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=3) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, s.labels.get("queue", ""), s.labels.get("window", s.labels.get("state", "")))] = (
                s.value
            )
    return found


def _wallboard(values: dict[tuple[str, str, str], float]) -> str:
    queues = sorted({q for (name, q, _) in values if name == "callcenter_waiting_calls"})
    rows = [f"{'queue':10}{'waiting':>9}{'longest':>9}{'SL 15m':>9}{'ASA 15m':>9}{'abandon':>9}{'avail':>7}"]
    for q in queues:
        sl = values.get(("callcenter_service_level_ratio", q, "15m"))
        asa = values.get(("callcenter_answer_speed_seconds", q, "15m"))
        ab = values.get(("callcenter_abandon_ratio", q, "15m"))
        rows.append(
            f"{q:10}{values[('callcenter_waiting_calls', q, '')]:>9.0f}"
            f"{values[('callcenter_longest_wait_seconds', q, '')]:>8.0f}s"
            f"{'-' if sl is None else f'{sl:.0%}':>9}{'-' if asa is None else f'{asa:.0f}s':>9}"
            f"{'-' if ab is None else f'{ab:.0%}':>9}{values[('callcenter_agents', q, 'available')]:>7.0f}"
        )
    return "\n".join(rows)


def _wait_ready(worker: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped; see {RUN / 'worker.log'}")
        try:
            if _scrape():
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"the worker did not serve /metrics in {timeout}s; see {RUN / 'worker.log'}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # stop everything on SIGTERM too, as on Ctrl-C


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    RUN.mkdir(parents=True, exist_ok=True)
    print("starting Kafka ...", flush=True)
    broker = LocalKafka.start(RUN / "kafka", port=free_port())
    env = {
        **os.environ,
        "CCMETRICS_KAFKA_SERVERS": broker.bootstrap,
        "CCMETRICS_METRICS_PORT": str(METRICS_PORT),
    }
    env["CCMETRICS_DATA_DIR"] = str(RUN / "worker-data")
    children = []
    try:
        print(f"Kafka ready on {broker.bootstrap}; starting the worker and the simulator ...", flush=True)
        worker = _spawn("worker", ["worker"], env)
        children.append(worker)
        _wait_ready(worker)
        children.append(_spawn("simulate", ["simulate", "--rate", "4", "--agents", "14", "--flat"], env))
        print(
            f"\nccmetrics is running.\n  metrics:   http://localhost:{METRICS_PORT}/metrics\n"
            f"  logs:      {RUN}/worker.log, {RUN}/simulate.log\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(10)
            print(time.strftime("%H:%M:%S"), "\n" + _wallboard(_scrape()) + "\n", flush=True)
        print("a process stopped; see the logs above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    finally:
        stop_all(children)
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
