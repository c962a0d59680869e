"""The compiled engine against the interpreted one: the same events, the same run.

Usage (``make bench`` runs it, on the simulated day and on the bank month)::

    python -m tools.compiled build                  # .cache/compiled/tree, metrics/ compiled
    python -m benchmarks.compiled_engine [FILE]     # default: replay_throughput's simulated day

Each build replays the file's events through the whole engine (decode, steps, windows, a
snapshot: ``stream.replay``) in a process of its own, best of ``--repeat``, repeat calls on;
the ratio of the times is the speed-up (issue 20 asks for at least 3×). The engine's
secret is set, so repeat calls are on, as ``CCMETRICS_CALLER_HASH_SECRET`` sets them. Then each build
prints the file's ``/metrics`` page with ``ccmetrics replay``: they must be the same bytes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.replay_throughput import best_seconds, engine, simulated_day
from stream.cli import REPLAY_GC_THRESHOLDS, tune_gc
from tools.compiled import REPO, TREE, in_tree, replay_page

SECRET = "compiled engine benchmark"  # repeat calls on, in the timing and in the pages


def timed(tree: Path, path: Path, repeat: int) -> float:
    """Best seconds of the engine over the file, in a process importing from ``tree``."""
    done = in_tree(
        tree,
        "-m",
        "benchmarks.compiled_engine",
        "--time-here",
        str(path),
        "--repeat",
        str(repeat),
        capture=True,
    )
    return float(done.decode())


def time_here(path: Path, repeat: int) -> float:
    """Best seconds of this process's engine over the file (the build it imports)."""
    tune_gc(REPLAY_GC_THRESHOLDS)  # as ccmetrics replay runs
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return best_seconds(lambda chunk: engine(chunk, SECRET.encode()), lines, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_here:
        print(time_here(args.file, args.repeat))
        return 0
    if not (TREE / "setup.py").exists():
        raise SystemExit(f"no compiled build in {TREE}: run python -m tools.compiled build first")
    path = (args.file or simulated_day(Path(tempfile.gettempdir()))).resolve()
    events = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    interpreted, compiled = timed(REPO, path, args.repeat), timed(TREE, path, args.repeat)
    print(f"file: {path} ({events:,} events; repeat calls on)")
    print(f"{'':24}{'seconds':>10}{'events/s':>12}")
    for name, seconds in (("interpreted engine", interpreted), ("compiled engine", compiled)):
        print(f"{name:24}{seconds:>10.3f}{events / seconds:>12,.0f}")
    print(f"compiled / interpreted: {interpreted / compiled:.2f}x   (target: at least 3x)")
    same = replay_page(REPO, path, SECRET) == replay_page(TREE, path, SECRET)
    print(f"/metrics of the replay, byte for byte: {'the same' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
