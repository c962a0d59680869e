"""``make demo``: Kafka, the worker and the simulator on this machine; Ctrl-C stops them all.

The simulated center starts in the middle of a busy day: the simulator sends the last hour at
once, then goes on in real time, so every window is full from the first minute. Sales is
understaffed and slides below its target, billing and support keep up; agents take breaks and
wrap up. Prints where to look and what to watch for, then a
small text wallboard every few seconds.
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
# Chosen with the engine so that, from the first minute, sales sits below its 80 % target
# (service level about a half) while billing and support stay inside it (tests/test_demo.py).
DEMO_SIMULATION = (
    *("--queues", "sales,support,billing", "--shares", "6,2,2"),
    *("--rate", "3", "--agents", "12", "--seed", "46", "--flat", "--history", "3600"),
)
# The demo's callers are made up; a real deployment keeps its own key secret (docs/configuration.md).
DEMO_CALLER_SECRET = "ccmetrics demo: not a secret"
GUIDE = """
ccmetrics is running. Where to look:
  wallboard   http://localhost:{port}/ in a browser (queues and agents; docs/wallboard.md)
  metrics     http://localhost:{port}/metrics (what Prometheus scrapes; docs/metrics.md)
  text        this terminal, every 10 seconds
  logs        {run}/worker.log, {run}/simulate.log
What to watch for:
  sales is understaffed: its 15-minute service level sits below its 80 % target, callers
  wait and abandon (ContactCenterServiceLevelLow pages after 5 minutes of it), Erlang C says
  how many agents short it is, and callers who waited long score it lower in their surveys;
  billing and support keep up with fewer calls. Agents go on breaks (away) and into wrap-up.
  Some callers call back after giving up or a long wait: repeat calls (callers are hashed
  with a demo key; set CCMETRICS_CALLER_HASH_SECRET to your own in a real deployment).
Ctrl-C stops everything.
"""


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (RUN / f"{name}.log").open("ab")
    command = [sys.executable, "-m", "stream.cli", *args]
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def _scrape() -> dict[tuple[str, str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=3) as response:
        return parse_values(response.read().decode())


def parse_values(text: str) -> dict[tuple[str, str, str], float]:
    """Samples of a /metrics text by (name, queue, window or state)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            where = s.labels.get("window", s.labels.get("state", ""))
            found[(s.name, s.labels.get("queue", ""), where)] = s.value
    return found


def _wallboard(values: dict[tuple[str, str, str], float]) -> str:
    queues = sorted({q for (name, q, _) in values if name == "callcenter_waiting_calls"})
    header = (
        "queue",
        "waiting",
        "longest",
        "SL 15m",
        "target",
        "ASA 15m",
        "abandon",
        "avail",
        "wrap",
        "away",
    )
    rows = ["{:10}{:>9}{:>9}{:>8}{:>8}{:>9}{:>9}{:>7}{:>6}{:>6}".format(*header)]
    for q in queues:
        rows.append(_row(values, q))
    return "\n".join(rows)


def _row(values: dict[tuple[str, str, str], float], q: str) -> str:
    sl = values.get(("callcenter_service_level_ratio", q, "15m"))
    asa = values.get(("callcenter_answer_speed_seconds", q, "15m"))
    ab = values.get(("callcenter_abandon_ratio", q, "15m"))
    target = values.get(("callcenter_service_level_target_ratio", q, ""), 0.0)
    agents = [values.get(("callcenter_agents", q, state), 0.0) for state in ("available", "wrap_up", "away")]
    return (
        f"{q:10}{values[('callcenter_waiting_calls', q, '')]:>9.0f}"
        f"{values[('callcenter_longest_wait_seconds', q, '')]:>8.0f}s"
        f"{'-' if sl is None else f'{sl:.0%}':>8}{target:>8.0%}{'-' if asa is None else f'{asa:.0f}s':>9}"
        f"{'-' if ab is None else f'{ab:.0%}':>9}{agents[0]:>7.0f}{agents[1]:>6.0f}{agents[2]:>6.0f}"
    )


def first_look(values: dict[tuple[str, str, str], float]) -> list[str]:
    """What a first look at the demo should show and does not yet (empty: all of it)."""
    queues = {q for (name, q, _) in values if name == "callcenter_waiting_calls"}
    below = [
        q
        for q in queues
        if values.get(("callcenter_service_level_ratio", q, "15m"), 1.0)
        < values.get(("callcenter_service_level_target_ratio", q, ""), 0.0)
    ]
    wanted = {
        "callers who waited (ASA above 0)": any(
            values.get(("callcenter_answer_speed_seconds", q, "15m"), 0.0) > 0 for q in queues
        ),
        "abandoned calls": any(
            values.get(("callcenter_abandoned_calls", q, "today"), 0.0) > 0 for q in queues
        ),
        "agents in wrap-up": any(values.get(("callcenter_agents", q, "wrap_up"), 0.0) > 0 for q in queues),
        "a queue below its service-level target": bool(below),
        "callers who called back (repeat calls)": any(
            values.get(("callcenter_repeat_calls", q, "1h"), 0.0) > 0 for q in queues
        ),
    }
    return [what for what, seen in wanted.items() if not seen]


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


def _watch(children: list[subprocess.Popen[bytes]]) -> int:
    """The wallboard every 10 seconds, and once, whether the first look shows what it should."""
    started, missing = time.monotonic(), ["nothing yet"]
    while all(child.poll() is None for child in children):
        time.sleep(10)
        values = _scrape()
        print(time.strftime("%H:%M:%S"), "\n" + _wallboard(values) + "\n", flush=True)
        if missing:
            missing = first_look(values)
            if not missing:
                print(f"(the first look is all there after {time.monotonic() - started:.0f} s)\n", flush=True)
    print("a process stopped; see the logs above", file=sys.stderr)
    return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # stop everything on SIGTERM too, as on Ctrl-C


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    RUN.mkdir(parents=True, exist_ok=True)
    print(f"the wallboard: http://localhost:{METRICS_PORT}/ (in about half a minute)", flush=True)
    print("starting Kafka ...", flush=True)
    broker = LocalKafka.start(RUN / "kafka", port=free_port())
    env = {
        **os.environ,
        "CCMETRICS_KAFKA_SERVERS": broker.bootstrap,
        "CCMETRICS_METRICS_PORT": str(METRICS_PORT),
    }
    env["CCMETRICS_DATA_DIR"] = str(RUN / "worker-data")
    env.setdefault("CCMETRICS_CALLER_HASH_SECRET", DEMO_CALLER_SECRET)  # repeat calls on
    children = []
    try:
        print(f"Kafka ready on {broker.bootstrap}; starting the worker and the simulator ...", flush=True)
        worker = _spawn("worker", ["worker"], env)
        children.append(worker)
        _wait_ready(worker)
        children.append(_spawn("simulate", ["simulate", *DEMO_SIMULATION], env))
        print(GUIDE.format(port=METRICS_PORT, run=RUN), flush=True)
        return _watch(children)
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    finally:
        stop_all(children)
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
