"""Replay throughput: the whole engine against a bare orjson decode loop, same file, same run.

Usage::

    python -m benchmarks.replay_throughput                # a simulated day (made here, seeded)
    python -m benchmarks.replay_throughput bank.jsonl     # any CloudEvents JSON-lines file

Both sides read the same lines from memory, so disk speed is out of it. Each is run
``--repeat`` times and the best time is kept. The ratio is what to compare across machines.
The engine runs again with repeat calls on (a caller secret, as
``CCMETRICS_CALLER_HASH_SECRET`` gives ``ccmetrics replay``): what they cost, as a ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from metrics.settings import Settings
from metrics.timeutil import clear_time_caches, parse_rfc3339_us
from stream.cli import REPLAY_GC_THRESHOLDS, tune_gc
from stream.replay import replay_items
from stream.simulate import Simulation, Traffic
from stream.sources import read_lines


def simulated_day(folder: Path) -> Path:
    """A seeded simulated day (about 150 thousand events), written once per simulator version
    (a day written by an older simulator, without callers, once measured repeat calls as free)."""
    import stream.returning_callers
    import stream.simulate

    sources = b"".join(
        Path(m.__file__ or "").read_bytes() for m in (stream.simulate, stream.returning_callers)
    )
    path = folder / f"ccmetrics-bench-day-{hashlib.sha256(sources).hexdigest()[:12]}.jsonl"
    if not path.exists():
        simulation = Simulation(
            Traffic(agents=40, rate_per_minute=40, seed=42), parse_rfc3339_us("2026-01-05T00:00:00Z")
        )
        from stream.simulate import write_events

        write_events(simulation.run(parse_rfc3339_us("2026-01-06T00:00:00Z")), path)
    return path


def decode_only(lines: list[bytes]) -> None:
    for line in lines:
        orjson.loads(line)


def engine(lines: list[bytes], caller_secret: bytes | None = None) -> None:
    clear_time_caches()  # every run starts cold, so repeats measure the same work
    replay_items(read_lines(lines, "cloudevents", "bench"), Settings(), caller_secret=caller_secret)


def engine_with_repeat_calls(lines: list[bytes]) -> None:
    engine(lines, b"replay throughput")


def best_seconds(work: Callable[[list[bytes]], None], lines: list[bytes], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work(lines)
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    tune_gc(REPLAY_GC_THRESHOLDS)  # as ccmetrics replay runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    path = args.file or simulated_day(Path(tempfile.gettempdir()))
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    decode_s = best_seconds(decode_only, lines, args.repeat)
    engine_s = best_seconds(engine, lines, args.repeat)
    callers_s = best_seconds(engine_with_repeat_calls, lines, args.repeat)
    count = len(lines)
    print(f"file: {path} ({count:,} events)")
    print(f"{'':28}{'seconds':>10}{'events/s':>14}")
    print(f"{'orjson decode only':28}{decode_s:>10.3f}{count / decode_s:>14,.0f}")
    print(f"{'replay engine (all of it)':28}{engine_s:>10.3f}{count / engine_s:>14,.0f}")
    print(f"{'with repeat calls on':28}{callers_s:>10.3f}{count / callers_s:>14,.0f}")
    print(f"engine / decode-only rate: {decode_s / engine_s:.1%}")
    print(f"with repeat calls / without: {engine_s / callers_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
