"""The optional compiled build: ``metrics/`` (the faust-free core) and the ``/metrics`` page's
writer (``stream/exporter``'s text, numbers and catalogue) compiled with mypyc.

Everything else about the package is in pyproject.toml; without ``CCMETRICS_COMPILE=1`` this
adds nothing and the package is pure Python. With it, mypyc must be importable in the build
environment (it comes with mypy), and a C compiler must be on the path::

    pip install mypy==2.4.1 setuptools
    CCMETRICS_COMPILE=1 pip install --no-build-isolation .

``python -m tools.compiled build`` makes the same build beside a checkout, for tests and
benchmarks (docs/performance.md, "The compiled core").
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

COMPILED_PACKAGE = "metrics"


# The page's writer: each scrape runs it over every sample (benchmarks/scrape_render.py,
# run in the compiled tree and in the checkout, compares the two).
EXPORTER = ("stream/exporter/text.py", "stream/exporter/numbers.py", "stream/exporter/catalogue.py")
# Kafka's partition of a key: the worker places each queue update, board state and caller mark.
PARTITIONER = ("stream/partitioner.py",)


def compiled_modules(root: Path) -> list[str]:
    """Every module compiled, as paths relative to ``root``."""
    found = sorted(str(path.relative_to(root)) for path in (root / COMPILED_PACKAGE).rglob("*.py"))
    return found + list(EXPORTER) + list(PARTITIONER)


def extensions() -> list[object]:
    if os.environ.get("CCMETRICS_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit(
            "CCMETRICS_COMPILE=1 needs mypyc in the build environment: "
            "pip install mypy==2.4.1 setuptools, then pip install --no-build-isolation ."
        ) from error
    return list(mypycify(compiled_modules(Path(__file__).parent), opt_level="3"))


if __name__ == "__main__":  # as pip and setuptools run it; tools/compiled.py imports the list above
    setup(ext_modules=extensions())
