"""The ``ccmetrics`` command: worker, replay, simulate, publish."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path

from metrics.settings import Settings, SettingsError
from metrics.timeutil import parse_rfc3339_us
from stream.problems import RuntimeProblem, UsageProblem
from stream.sources import FORMATS, check_readable

GcThresholds = tuple[int, int, int]  # gc.set_threshold's: young allocations, then collections
# Every command: young objects every 10,000 allocations, so that one collection never
# holds up the worker's event loop for long.
GC_THRESHOLDS: GcThresholds = (10_000, 20, 20)
# A replay is a batch job whose state is all long-lived and has no reference cycles: it
# collects young objects every million allocations (a tenth less time for the bank month
# than every 10,000, benchmarks/replay_throughput.py) and older ones almost never.
REPLAY_GC_THRESHOLDS: GcThresholds = (1_000_000, 1000, 1000)


def tune_gc(thresholds: GcThresholds = GC_THRESHOLDS) -> None:
    """Collect young objects less often than Python's default (every 700 allocations).

    The engine keeps many long-lived records; with the default, collections took about a
    sixth of a replay (benchmarks/replay_throughput.py). Objects freed by reference
    counting are unaffected; only cycles wait longer.
    """
    gc.freeze()  # what was made at start-up is never garbage
    gc.set_threshold(*thresholds)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a problem it reports is one line on standard error, never a traceback."""
    tune_gc()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.program = argv is None  # the ccmetrics command itself, not a call from Python
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except (SettingsError, UsageProblem) as error:
        return _report(args.command, error, 2)
    except RuntimeProblem as error:
        return _report(args.command, error, 1)
    except KeyboardInterrupt:
        return 130


def _report(command: str, error: Exception, code: int) -> int:
    print(f"ccmetrics {command}: {error}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccmetrics", description="Real-time contact-center metrics.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")
    _add_replay(commands)
    _add_worker(commands)
    _add_simulate(commands)
    _add_publish(commands)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file (default: the contract's defaults)")


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser("replay", help="print the metrics of event files at an instant")
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE")
    replay.add_argument("--format", choices=FORMATS, default="cloudevents")
    _config_option(replay)
    replay.add_argument("--until", help="RFC 3339 instant to report at (default: the newest event)")
    replay.set_defaults(run=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from stream.deploy import Deployment
    from stream.exporter.text import render
    from stream.replay import replay_files

    until = _parse_until(args.until)
    for path in args.files:
        check_readable(path)
    tune_gc(REPLAY_GC_THRESHOLDS)
    secret = Deployment.from_env(os.environ).caller_secret  # CCMETRICS_CALLER_HASH_SECRET: repeat calls
    snapshot = replay_files(args.files, args.format, Settings.load(args.config), until, caller_secret=secret)
    sys.stdout.buffer.write(render(snapshot))
    return 0


def _parse_until(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_rfc3339_us(text)
    except ValueError as error:
        raise UsageProblem(f"--until: {error}") from None


def _add_worker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser("worker", help="run the stream processor and /metrics exporter")
    _config_option(worker)
    worker.set_defaults(run=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    from stream.allocator import start_with_allocator
    from stream.deploy import Deployment

    if args.program:  # a process of its own: it may start itself again
        start_with_allocator(Deployment.from_env(os.environ).allocator)
    from stream.worker import run_worker

    return run_worker(args.config)


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stream.simulate import add_arguments

    simulate = commands.add_parser("simulate", help="publish simulated call and agent traffic")
    add_arguments(simulate)


def _add_publish(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from stream.publish import add_arguments

    publish = commands.add_parser("publish", help="send an event file to Kafka")
    add_arguments(publish)


if __name__ == "__main__":
    raise SystemExit(main())
