"""Memory soak: a worker fed simulated traffic at a high rate for hours; is its memory flat?

Usage (``make soak-memory`` runs the 2-hour default)::

    python -m benchmarks.memory_soak --minutes 120 --rate 2000 --agents 5000 --queues 20

Starts a local broker, a worker and the simulator (live, to Kafka). Ages are short here
(calls 10 min, agents 20 min, windows 5m and 15m) so that the worker reaches the point
where it lets go as much as it takes in within the first half hour; from then on its memory
should stay flat. Every minute it prints the worker's resident memory, events accepted and
consumer lag, and writes them to ``.cache/soak/samples.csv``. At the end it compares the
steady state's first and last 30 minutes and fits a slope.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.scrape import page_text
from tools.kafka_local import REPO, LocalKafka, free_port
from tools.processes import stop_all

RUN = REPO / ".cache" / "soak"
CONFIG = """
[defaults]
windows = ["5m", "15m"]

[limits]
max_call_age_seconds = 600
max_agent_age_seconds = 1200
"""
HORIZON_MINUTES = 25  # visits kept: widest window (15m) + max_call_age (10m)


@dataclass
class Sample:
    minute: float
    rss_mb: float
    events: float
    lag: float


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (RUN / f"{name}.log").open("wb")
    command = [sys.executable, "-m", "stream.cli", *args]
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def scrape_totals(port: int) -> tuple[float, float]:
    """Events accepted so far, and consumer lag, from the worker's /metrics."""
    text = page_text(port, 5)
    events = lag = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "callcenter_events_total":
                events += sample.value
            elif sample.name == "callcenter_consumer_lag_messages":
                lag += sample.value
    return events, lag


def wait_ready(worker: subprocess.Popen[bytes], port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped; see {RUN / 'worker.log'}")
        try:
            scrape_totals(port)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the worker did not serve /metrics in {timeout} s")


def slope_mb_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of resident memory against time."""
    n = len(samples)
    mean_t = sum(s.minute for s in samples) / n
    mean_m = sum(s.rss_mb for s in samples) / n
    spread = sum((s.minute - mean_t) ** 2 for s in samples) or 1.0
    return 60 * sum((s.minute - mean_t) * (s.rss_mb - mean_m) for s in samples) / spread


def verdict(samples: list[Sample], minutes: float) -> int:
    steady = [s for s in samples if s.minute >= HORIZON_MINUTES + 5]
    if len(steady) < 4:
        print("too short to judge: run past the retention horizon")
        return 1
    window = min(30.0, (minutes - HORIZON_MINUTES - 5) / 2)
    first = [s.rss_mb for s in steady if s.minute < steady[0].minute + window]
    last = [s.rss_mb for s in steady if s.minute > minutes - window]
    growth = (sum(last) / len(last)) / (sum(first) / len(first)) - 1
    rate = (steady[-1].events - steady[0].events) / ((steady[-1].minute - steady[0].minute) * 60)
    print(f"steady state from minute {steady[0].minute:.0f}: {rate:,.0f} events/s accepted")
    print(f"resident memory, mean of first {window:.0f} min: {sum(first) / len(first):.1f} MB")
    print(f"resident memory, mean of last {window:.0f} min:  {sum(last) / len(last):.1f} MB ({growth:+.1%})")
    print(f"fitted slope over the steady state: {slope_mb_per_hour(steady):+.2f} MB/hour")
    print(f"largest consumer lag: {max(s.lag for s in steady):,.0f} messages")
    flat = abs(growth) < 0.05
    print("FLAT" if flat else "NOT FLAT (more than 5 % between the first and last windows)")
    return 0 if flat else 1


def run(args: argparse.Namespace) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / "ccmetrics.toml").write_text(CONFIG)
    port = free_port()
    broker = LocalKafka.start(RUN / "kafka", port=free_port())
    env = {**os.environ, "CCMETRICS_KAFKA_SERVERS": broker.bootstrap, "CCMETRICS_METRICS_PORT": str(port)}
    env["CCMETRICS_DATA_DIR"] = str(RUN / "worker-data")
    children: list[subprocess.Popen[bytes]] = []
    try:
        worker = _spawn("worker", ["worker", "--config", str(RUN / "ccmetrics.toml")], env)
        children.append(worker)
        wait_ready(worker, port)
        queues = ",".join(f"q{n:02d}" for n in range(args.queues))
        traffic = ["--rate", str(args.rate), "--agents", str(args.agents), "--queues", queues, "--flat"]
        children.append(_spawn("simulate", ["simulate", *traffic, "--talk", "120", "--seed", "11"], env))
        return verdict(sample(worker, children, port, args.minutes), args.minutes)
    finally:
        stop_all(children)
        broker.stop()


def sample(
    worker: subprocess.Popen[bytes], children: list[subprocess.Popen[bytes]], port: int, minutes: float
) -> list[Sample]:
    samples: list[Sample] = []
    started = time.monotonic()
    with (RUN / "samples.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["minute", "rss_mb", "events_accepted", "consumer_lag"])
        while (elapsed := (time.monotonic() - started) / 60) < minutes:
            if any(child.poll() is not None for child in children):
                raise SystemExit(f"a process stopped; see the logs in {RUN}")
            events, lag = scrape_totals(port)
            samples.append(Sample(elapsed, rss_mb(worker.pid), events, lag))
            out.writerow([f"{elapsed:.2f}", f"{samples[-1].rss_mb:.1f}", int(events), int(lag)])
            handle.flush()
            rss = samples[-1].rss_mb
            print(f"minute {elapsed:6.1f}  rss {rss:7.1f} MB  events {events:>12,.0f}  lag {lag:>8,.0f}")
            time.sleep(60)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--rate", type=float, default=2000, help="calls per minute")
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--queues", type=int, default=20)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
