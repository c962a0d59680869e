"""Scrape cost at scale: 500 queues, 4 rolling windows, 5,000 agents.

Usage (``make bench`` runs it)::

    python -m benchmarks.scrape_render [--queues 500] [--agents 5000]

Builds the worker's queue step in memory (each agent serves three queues; each queue
has a few hundred calls in its windows), then times the two things the worker does on its
event loop: taking a snapshot (the timer, or a scrape asking for a fresh one) and rendering
``/metrics``. The baseline renders the same number of samples from plain labelled
prometheus_client gauges, the library's own fast path. The event loop is blocked for as
long as one of these runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from metrics.agents import AgentHistory
from metrics.contract.events import AGENT_STATES, Event
from metrics.pipeline import PipelineStats
from metrics.settings import QueueSettings, Settings
from metrics.snapshot import Snapshot
from metrics.steps.queues import QueueStep
from metrics.timeutil import US
from metrics.visits import Handling, Visit
from stream.exporter.text import render

NOW = 1_767_614_400 * US  # 2026-01-05T12:00:00Z
SETTINGS = Settings(defaults=QueueSettings(windows=("5m", "15m", "30m", "1h")))


def build_queues(queues: int, agents: int, calls_per_queue: int, seed: int = 1) -> QueueStep:
    rng = random.Random(seed)
    queues = QueueStep(SETTINGS)
    names = [f"queue-{n:03d}" for n in range(queues)]
    for partition, name in enumerate(names):
        state = queues.state(name, partition % 4)
        for n in range(calls_per_queue):
            queued = NOW - rng.randrange(3600 * US)
            wait = rng.randrange(120 * US)
            done = queued + wait + rng.randrange(600 * US)
            handlings = (Handling(done, done - queued - wait),) if done <= NOW else ()
            visit = Visit(f"{name}-c{n}", name, done, queued, "answered", queued + wait, handlings)
            state.apply_visit(visit)
    for n in range(agents):
        history = AgentHistory(f"agent-{n:04d}")
        served = tuple(sorted(rng.sample(names, 3)))
        state = rng.choice(AGENT_STATES[1:])
        history.add(
            Event(
                f"e{n}",
                "agent.state",
                NOW - rng.randrange(60 * US),
                "bench",
                agent_id=history.agent_id,
                state=state,
                queues=served,
            )
        )
        for name in served:
            queues.states[name].apply_agent(history)
    return queues


def baseline_registry(samples: int) -> CollectorRegistry:
    """Plain gauges with as many samples as the worker's page, spread over 50 metrics."""
    registry = CollectorRegistry()
    per_metric = samples // 50
    for m in range(50):
        gauge = Gauge(f"baseline_metric_{m}", "baseline", ["queue", "window"], registry=registry)
        for n in range(per_metric):
            gauge.labels(f"queue-{n % 500:03d}", f"w{n // 500}").set(n)
    return registry


def timings(work: Callable[[], object], repeat: int) -> list[float]:
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        found.append(time.perf_counter() - started)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=500)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--calls-per-queue", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    queues = build_queues(args.queues, args.agents, args.calls_per_queue)
    moments = iter(range(NOW, NOW + 10_000 * US, US))
    snapshot = Snapshot(NOW, queues.snapshot(NOW), PipelineStats().snapshot())
    text = render(snapshot)
    samples = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    baseline = baseline_registry(samples)
    snap = timings(lambda: queues.snapshot(next(moments)), args.repeat)
    page = timings(lambda: render(snapshot), args.repeat)
    base = timings(lambda: generate_latest(baseline), args.repeat)
    scale = f"{args.queues} queues, 4 rolling windows + today, {args.agents:,} agents"
    print(f"{scale}: {samples:,} samples, {len(text) / 1e6:.1f} MB")
    print(f"{'':38}{'median ms':>10}{'max ms':>9}")
    for name, found in (
        ("snapshot (timer)", snap),
        ("render /metrics", page),
        ("baseline: plain gauges, same samples", base),
    ):
        print(f"{name:38}{statistics.median(found) * 1e3:>10.1f}{max(found) * 1e3:>9.1f}")
    ratio = statistics.median(page) / statistics.median(base)
    print(f"render / baseline: {ratio:.2f}x   (target: render under 50 ms)")
    print(f"longest event-loop block: {max(max(snap), max(page)) * 1e3:.0f} ms   (target: under 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
