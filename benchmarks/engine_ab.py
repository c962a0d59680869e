"""One build's engine against another's: the same simulated day, alternating rounds.

``compiled_engine`` compares a build with the interpreted engine; a change to the compiled
engine is compared with the build before it here, as ``worker_ab`` compares workers. Each
round times each build's engine (``compiled_engine --time-here``: decode, steps, windows,
snapshot; best of ``--repeat``) in a process of its own, in alternating order; the ratio is
printed of the best round and of the median round (a shared host's noise moves single runs
by a third). Usage::

    git worktree add /tmp/before <commit>
    (cd /tmp/before && python -m tools.compiled build)
    python -m tools.compiled build
    python -m benchmarks.engine_ab .cache/compiled/tree /tmp/before/.cache/compiled/tree
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.compiled_engine import timed
from benchmarks.replay_throughput import simulated_day
from benchmarks.worker_ab import in_round_order


def report(found: dict[str, list[float]]) -> None:
    this, other = found["this"], found["other"]
    print(f"best round: this {min(this):.3f} s, other {min(other):.3f} s: {min(other) / min(this):.2f}x")
    this_mid, other_mid = statistics.median(this), statistics.median(other)
    print(f"median round: this {this_mid:.3f} s, other {other_mid:.3f} s: {other_mid / this_mid:.2f}x")
    print("(above 1: this build's engine is the faster)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("this", type=Path, help="a build's tree (python -m tools.compiled build)")
    parser.add_argument("other", type=Path, help="the build to compare it with")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="runs in each round's process")
    args = parser.parse_args(argv)
    trees = {"this": args.this.resolve(), "other": args.other.resolve()}
    found: dict[str, list[float]] = {"this": [], "other": []}
    with tempfile.TemporaryDirectory() as folder:
        day = simulated_day(Path(folder))
        for number in range(args.rounds):
            for name in in_round_order(("this", "other"), number):
                found[name].append(timed(trees[name], day, args.repeat))
                print(f"round {number + 1}: {name:5} {found[name][-1]:.3f} s", flush=True)
    report(found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
