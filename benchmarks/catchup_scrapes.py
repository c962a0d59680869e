"""Scrapes while a worker catches up: does Prometheus still get its page at 500 queues?

Usage (``make bench`` runs it; a few minutes)::

    python -m benchmarks.catchup_scrapes [--events 600000] [--tree BUILD] [--against OTHER_BUILD]

Publishes simulated traffic of 500 queues and 5,000 agents (the first ``events`` of the hours
before now), then starts a worker over it, as after a deploy or an outage. While it catches
up, ``/metrics`` is fetched every 5 s with a 5 s timeout, as ``prometheus/prometheus.yml``
scrapes it: a scrape that takes longer fails, and a minute of failures pages on-call staff
(ContactCenterWorkerDown) about a worker that is only busy. Once caught up, a few more scrapes
time the same page at rest: the baseline, in the same run. With ``--against``, another build
catches up over the same events after it (its own app id), as a comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from benchmarks.kafka_throughput import COUNTED, RUN, events_seen, new_app_id, publish, start_worker, stop
from benchmarks.recovery import history
from benchmarks.scrape import page_text, stage_summary, sums_in
from tools.kafka_local import REPO, LocalKafka, free_port

INTERVAL_SECONDS = 5.0  # prometheus/prometheus.yml's scrape_interval; its timeout is at most that
AT_REST = 4  # scrapes once caught up
LAG = "callcenter_consumer_lag_messages"


@dataclass
class Scrapes:
    """Each scrape's seconds (``None``: it failed or took over the timeout), during and after."""

    catching_up: list[float | None] = field(default_factory=list)
    at_rest: list[float] = field(default_factory=list)
    caught_up_seconds: float = 0.0

    def line(self, name: str) -> str:
        taken = [s for s in self.catching_up if s is not None]
        failed = len(self.catching_up) - len(taken)
        rest = statistics.median(self.at_rest)
        longest = max(taken, default=float("nan"))
        return (
            f"{name}: caught up in {self.caught_up_seconds:.0f} s; "
            f"{len(self.catching_up)} scrapes meanwhile, "
            f"{failed} failed (over {INTERVAL_SECONDS:.0f} s); the others median {_median(taken):.2f} s, "
            f"longest {longest:.2f} s = {longest / rest:.1f}x a scrape at rest ({rest:.2f} s, same worker)"
        )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def scrape(port: int) -> tuple[float | None, str]:
    """One scrape as Prometheus makes it: its seconds and page, or ``None`` when it failed."""
    started = time.monotonic()
    try:
        text = page_text(port, INTERVAL_SECONDS)
    except OSError:
        return None, ""
    took = time.monotonic() - started
    return (took if took <= INTERVAL_SECONDS else None), text


def caught_up(text: str, expected: int) -> bool:
    sums = sums_in(text, (*COUNTED, LAG))
    return events_seen(sums) >= expected and sums.get(LAG, 1.0) == 0


def watch(child: Popen[bytes], port: int, expected: int) -> Scrapes:
    """Scrape on Prometheus's schedule until the worker has caught up, then a few times more."""
    scrapes, started = Scrapes(), time.monotonic()
    while time.monotonic() - started < 3600:
        if child.poll() is not None:
            raise SystemExit(f"the worker stopped; see {RUN / 'worker.log'}")
        due = time.monotonic() + INTERVAL_SECONDS
        took, text = scrape(port)
        if text and caught_up(text, expected):
            scrapes.caught_up_seconds = time.monotonic() - started
            scrapes.at_rest = [_at_rest(port) for _ in range(AT_REST)]
            print("  its batches and collections meanwhile:", *stage_summary(port), sep="\n", flush=True)
            return scrapes
        scrapes.catching_up.append(took)
        shown = "failed" if took is None else f"{took:.2f} s"
        print(f"  {time.monotonic() - started:5.0f} s: a scrape {shown}", flush=True)
        time.sleep(max(0.0, due - time.monotonic()))
    raise SystemExit("the worker did not catch up in an hour")


def _at_rest(port: int) -> float:
    time.sleep(INTERVAL_SECONDS)
    took, _ = scrape(port)
    if took is None:
        raise SystemExit("a scrape of the caught-up worker failed")
    return took


def catch_up(bootstrap: str, expected: int, tree: Path) -> Scrapes:
    port = free_port()
    child = start_worker(bootstrap, port, new_app_id(), tree=tree)  # serving: start-up is not catch-up
    try:
        return watch(child, port, expected)
    finally:
        stop(child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--tree", type=Path, default=REPO, help="the build to measure")
    parser.add_argument("--against", type=Path, help="another build, over the same events")
    args = parser.parse_args(argv)
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka-catchup", port=free_port())
    try:
        events = list(history(args.events))
        print(f"publishing {len(events):,} events of 500 queues and 5,000 agents ...", flush=True)
        asyncio.run(publish(broker.bootstrap, events))
        builds = [args.tree, *([args.against] if args.against else [])]
        results = []
        for tree in builds:
            print(f"a worker ({tree}) catching up, scraped every {INTERVAL_SECONDS:.0f} s:", flush=True)
            results.append(catch_up(broker.bootstrap, len(events), tree))
        for tree, result in zip(builds, results, strict=True):
            print(result.line(str(tree)))
        if len(results) == 2:
            ratio = results[0].caught_up_seconds / results[1].caught_up_seconds
            print(f"catching up took {ratio:.2f}x the time of the other build ({args.against})")
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
