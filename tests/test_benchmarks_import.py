"""Every benchmark still imports: `make bench` is not run by `make test`, so a rename that
breaks one would otherwise go unseen until someone measures."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import benchmarks

MODULES = sorted(info.name for info in pkgutil.iter_modules(benchmarks.__path__))


def test_there_are_benchmarks() -> None:
    assert {"kafka_throughput", "replay_throughput", "recovery", "memory_held"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, "each benchmark says what it measures and how to rerun it"
