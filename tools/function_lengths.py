"""Function lengths in lines (nested functions counted on their own): median, p90 and longest.

Usage::

    python -m tools.function_lengths metrics stream [--over 40]
"""

from __future__ import annotations

import argparse
import ast
import statistics
from pathlib import Path
from typing import NamedTuple


class Function(NamedTuple):
    lines: int
    where: str


def functions(roots: list[Path]) -> list[Function]:
    """Every function and method under ``roots``, with its length from ``def`` to its last line."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert node.end_lineno is not None
                    found.append(Function(node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--over", type=int, default=40, help="list functions longer than this")
    args = parser.parse_args(argv)
    found = sorted(functions(args.roots))
    lengths = [f.lines for f in found]
    p90 = lengths[int(0.9 * len(lengths))]
    print(f"functions {len(found)}  median {statistics.median(lengths)}  p90 {p90}  max {found[-1].lines}")
    for function in found:
        if function.lines > args.over:
            print(f"  {function.lines:4} {function.where}")
    return 1 if lengths[-1] > args.over else 0


if __name__ == "__main__":
    raise SystemExit(main())
