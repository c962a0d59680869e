"""The worker starts itself again with jemalloc where it is installed, once, and only if asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stream import allocator
from stream.allocator import (
    LIBRARY,
    allocator_in_use,
    jemalloc_environment,
    library_path,
    start_with_allocator,
)
from stream.problems import UsageProblem
from tools.kafka_local import REPO

PROBE = "from stream.allocator import *; start_with_allocator({choice!r}); print(allocator_in_use())"


def _started_with(choice: str, **environ: str) -> str:
    command = [sys.executable, "-c", PROBE.format(choice=choice)]
    env = {**os.environ, "PYTHONPATH": str(REPO), **environ}
    for name in ("LD_PRELOAD", "PYTHONMALLOC", "MALLOC_CONF"):
        if name not in environ:
            env.pop(name, None)
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()


def test_jemalloc_is_installed_where_the_tests_run() -> None:
    assert library_path() is not None, "make test installs libjemalloc2; the image has it too"


def test_auto_and_jemalloc_start_again_with_it_and_python_keeps_cpythons() -> None:
    assert _started_with("auto") == "jemalloc"
    assert _started_with("jemalloc") == "jemalloc"
    assert _started_with("python") == "python"


def test_a_preload_that_failed_is_not_tried_twice() -> None:
    """A process already started with the preload goes on as it is (``auto``) or stops
    (``jemalloc``): never a loop of starts."""
    failed = {"LD_PRELOAD": f"/nowhere/{LIBRARY}", "PYTHONMALLOC": "malloc"}
    assert _started_with("auto", **failed) == "python"
    with pytest.raises(subprocess.CalledProcessError):
        _started_with("jemalloc", **failed)


def test_jemalloc_required_but_missing_is_a_clear_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "library_path", lambda: None)
    with pytest.raises(UsageProblem, match="CCMETRICS_ALLOCATOR=jemalloc"):
        start_with_allocator("jemalloc")
    start_with_allocator("auto")  # goes on with CPython's
    assert allocator_in_use() == "python"


def test_an_operators_own_settings_are_kept() -> None:
    env = jemalloc_environment({"LD_PRELOAD": "/opt/x.so", "MALLOC_CONF": "narenas:1"}, "/usr/lib/j.so")
    assert env["LD_PRELOAD"] == "/usr/lib/j.so /opt/x.so" and env["MALLOC_CONF"] == "narenas:1"
    assert env["PYTHONMALLOC"] == "malloc"
