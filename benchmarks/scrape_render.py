"""Scrape cost at scale: 500 queues, 4 rolling windows, 5,000 agents.

Usage (``make bench`` runs it)::

    python -m benchmarks.scrape_render [--queues 500] [--agents 5000]

Builds the worker's queue step and agent board in memory (each agent serves three queues;
each queue has a few hundred calls in its windows, a third of them with a survey and all with
a caller (repeat calls on); each agent has the changes a million
calls a day leave in its history and eight hours of its calls), then times the work the
worker does on its event loop: a snapshot of the queues and the ``/metrics`` page (default
``[agents]`` settings, in the parts the worker writes), each at once; then as the worker does
them, in slices (the agent list's refresh, and a scrape through ``Snapshots.metrics_page``
taking a fresh snapshot and its page), with a ticker task measuring the longest the loop
waits meanwhile, and the garbage collector's pauses by generation. The baseline renders the
same number of samples from plain labelled prometheus_client gauges, the library's own fast
path. Run as a program, it runs with the worker's allocator (jemalloc where installed,
``stream/allocator.py``): the page's strings cost what they cost there.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from metrics.agent_calls import AgentCall
from metrics.agents import AgentHistory
from metrics.contract.events import Event
from metrics.pipeline import PipelineStats
from metrics.settings import QueueSettings, Settings
from metrics.snapshot import Snapshot
from metrics.steps.agent_board import AgentBoard
from metrics.steps.clock import FixedClock
from metrics.steps.queues import QueueStep
from metrics.timeutil import US
from metrics.visits import Handling, Visit
from stream.allocator import allocator_in_use, start_with_allocator
from stream.cli import tune_gc
from stream.exporter.http import Snapshots
from stream.exporter.text import page_parts, render_with
from stream.gc_pauses import GcPauses
from stream.stage_timings import StageTimings

NOW = 1_767_614_400 * US  # 2026-01-05T12:00:00Z
SETTINGS = Settings(defaults=QueueSettings(windows=("5m", "15m", "30m", "1h")))


def build_queues(count: int, calls_per_queue: int, seed: int = 1) -> QueueStep:
    rng = random.Random(seed)
    queues = QueueStep(SETTINGS)
    names = [f"queue-{n:03d}" for n in range(count)]
    for partition, name in enumerate(names):
        state = queues.state(name, partition % 4)
        for n in range(calls_per_queue):
            queued = NOW - rng.randrange(3600 * US)
            wait = rng.randrange(120 * US)
            done = queued + wait + rng.randrange(600 * US)
            handlings = (Handling(done, done - queued - wait),) if done <= NOW else ()
            survey = (done, rng.randint(1, 5), rng.randint(0, 10), rng.randint(1, 7)) if n % 3 == 0 else None
            identified = (queued, rng.random() < 0.2)  # repeat calls and surveys on, as the issue asks
            visit = Visit(f"{name}-c{n}", name, done, queued, "answered", queued + wait, handlings)
            state.apply_visit(visit._replace(survey=survey, identified=identified))
    for partition in range(4):  # as the worker's housekeeping does every 10 s: ended waits go
        queues.expire(partition, NOW)
    return queues


def build_board(queues: QueueStep, agents: int, seed: int = 1) -> AgentBoard:
    """Agents as a million calls a day leave them: a call every ~7 minutes each, 8 hours of calls."""
    rng, board = random.Random(seed), AgentBoard(SETTINGS)
    names = sorted(queues.states)
    for n in range(agents):
        history = agent_history(f"agent-{n:04d}", tuple(sorted(rng.sample(names, 3))), rng)
        timeline = history.timeline(SETTINGS.limits.max_agent_age_us)  # what the agent step tells
        board.apply(timeline, n % 4)
        for name in history.all_queues():
            queues.states[name].apply_agent(timeline)
        for call in agent_calls(history.agent_id, rng):
            board.apply(call, n % 4)
    return board


def agent_history(agent_id: str, served: tuple[str, ...], rng: random.Random) -> AgentHistory:
    """The changes of the last two hours, trimmed as the agent step keeps them."""
    history, at, index = AgentHistory(agent_id), NOW - 2 * 3600 * US, 0
    for state in ("available", *itertools.islice(itertools.cycle(("on_call", "wrap_up", "available")), 60)):
        listed = served if index == 0 else None
        history.add(
            Event(
                f"{agent_id}-{index}",
                "agent.state",
                at,
                "bench",
                agent_id=agent_id,
                state=state,
                queues=listed,
            )
        )
        at, index = at + rng.randrange(20 * US, 240 * US), index + 1
        if at > NOW:
            break
    history.trim(SETTINGS.agent_keep_us, SETTINGS.agent_place_us, SETTINGS.limits.max_agent_age_us)
    return history


def agent_calls(agent_id: str, rng: random.Random) -> list[AgentCall]:
    calls = []
    for n in range(67):  # 8 hours of 200 calls a day
        done = NOW - rng.randrange(8 * 3600 * US)
        missed = (done - 300 * US,) if rng.random() < 0.1 else ()
        calls.append(
            AgentCall(f"{agent_id}-c{n}", agent_id, done, done, rng.randrange(600 * US), None, missed)
        )
    return calls


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


def with_stalls(work: Awaitable[object]) -> tuple[float, float]:
    """Seconds ``work`` takes on the event loop, and the longest the loop waits meanwhile (a
    ticker task measures the gaps between its turns)."""

    async def run() -> tuple[float, float]:
        longest, done, last = 0.0, False, time.perf_counter()

        async def ticker() -> None:  # its first turn comes after the work's first slice
            nonlocal longest, last
            while True:
                moment = time.perf_counter()
                longest, last = max(longest, moment - last), moment
                if done:
                    return
                await asyncio.sleep(0)

        ticking = asyncio.create_task(ticker())
        started = time.perf_counter()
        await work
        took, done = time.perf_counter() - started, True
        await ticking
        return took, longest

    return asyncio.run(run())


class PauseTally:
    """The garbage collector's pauses by generation (told by :class:`GcPauses`): a collection
    holds the event loop whatever the work's slices.

    >>> import gc
    >>> tally = PauseTally()
    >>> with GcPauses(tally.add):
    ...     _ = gc.collect(2)
    >>> len(tally.seconds[2])
    1
    """

    def __init__(self) -> None:
        self.seconds: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def add(self, generation: int, seconds: float) -> None:
        self.seconds[generation].append(seconds)

    def summary(self) -> str:
        found = [
            f"{len(paused)} of generation {gen} (longest {max(paused, default=0) * 1e3:.0f} ms)"
            for gen, paused in self.seconds.items()
        ]
        return ", ".join(found)


def measured_stalls(
    work: Callable[[], Awaitable[object]], count: int
) -> tuple[list[tuple[float, float]], PauseTally]:
    """:func:`with_stalls` of ``count`` runs of ``work``, and the collector's pauses meanwhile."""
    tally = PauseTally()
    with GcPauses(tally.add):
        found = [with_stalls(work()) for _ in range(count)]
    return found, tally


def scrape(snapshots: Snapshots, clock: FixedClock) -> Awaitable[list[bytes]]:
    """A scrape as the worker answers it, its latest snapshot a second old: a fresh snapshot
    and its page, each in slices (``Snapshots.metrics_page``)."""
    clock.instant_us += US
    return snapshots.metrics_page()


def print_table(rows: list[tuple[str, list[float]]]) -> None:
    print(f"{'':44}{'median ms':>10}{'max ms':>9}")
    for name, found in rows:
        print(f"{name:44}{statistics.median(found) * 1e3:>10.1f}{max(found) * 1e3:>9.1f}")


def parsed(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=500)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--calls-per-queue", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parsed(argv)
    if argv is None:  # run as a program: with the allocator the worker runs with (stream/allocator.py)
        start_with_allocator("auto")
    tune_gc()  # as the worker runs
    queues = build_queues(args.queues, args.calls_per_queue)
    board, clock = build_board(queues, args.agents), FixedClock(NOW)
    snapshots = Snapshots(None, queues, board, PipelineStats(), clock, StageTimings())
    measure(snapshots, clock, args)
    return 0


def measure(snapshots: Snapshots, clock: FixedClock, args: argparse.Namespace) -> None:
    page, queues, runs = snapshots.page, snapshots.queues, max(3, args.repeat // 4)
    refreshes, refresh_pauses = measured_stalls(lambda: page.refresh(clock.instant_us), runs)

    def snapshot() -> Snapshot:  # the queues' part of a snapshot, all at once as replay takes it
        clock.instant_us += US
        at = clock.instant_us
        return Snapshot(at, queues.snapshot(at), PipelineStats().snapshot(), page.agents, "full", page.at_us)

    latest = snapshot()
    text = render_with(latest, page.text)
    samples = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    snap = timings(snapshot, args.repeat)
    rendering = timings(lambda: page_parts(latest, page.text), args.repeat)  # what the worker serves
    asyncio.run(snapshots.take())  # the timer's first
    scrapes, scrape_pauses = measured_stalls(lambda: scrape(snapshots, clock), runs)
    baseline = baseline_registry(samples)
    base = timings(lambda: generate_latest(baseline), args.repeat)
    scale = f"{args.queues} queues, 4 rolling windows + today, {args.agents:,} agents"
    print(f"{scale}: {samples:,} samples, {len(text) / 1e6:.1f} MB; allocator: {allocator_in_use()}")
    print_table(
        [
            ("snapshot of the queues (at once)", snap),
            ("render /metrics (at once)", rendering),
            ("agent list refresh (a timer, in slices)", [took for took, _ in refreshes]),
            ("  longest event-loop wait during it", [stall for _, stall in refreshes]),
            ("scrape: fresh snapshot and page, in slices", [took for took, _ in scrapes]),
            ("  longest event-loop wait during it", [stall for _, stall in scrapes]),
            ("baseline: plain gauges, same samples", base),
        ]
    )
    print(f"render / baseline: {statistics.median(rendering) / statistics.median(base):.2f}x", end="")
    print("   (target: render under 50 ms)")
    longest = max(stall for _, stall in [*refreshes, *scrapes])
    print(f"longest event-loop block: {longest * 1e3:.0f} ms   (target: under 100 ms)")
    print(f"garbage collections during the agent list refreshes: {refresh_pauses.summary()}")
    print(f"garbage collections during the scrapes: {scrape_pauses.summary()}")


if __name__ == "__main__":
    raise SystemExit(main())
