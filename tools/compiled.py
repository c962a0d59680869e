"""The compiled build beside this checkout: made, tested, and compared with the interpreted one.

Usage (``make test`` runs ``test``; ``make bench`` runs ``build``)::

    python -m tools.compiled build   # .cache/compiled/tree: this checkout, setup.py's modules compiled
    python -m tools.compiled test    # the unit and property tests against it, then replay, byte for byte

The tree holds the checkout's files (tracked, and new ones not ignored) with ``metrics/``
and the page's writer (``setup.py``'s list) compiled in place by mypyc
(``CCMETRICS_COMPILE=1 setup.py build_ext --inplace``); it is built again only when a file
changed. ``test`` first checks that the compiled modules are
the ones imported there (a silent fallback to the sources would test nothing), runs the
tests that need no broker, then replays a simulated day with both builds and fails unless
their ``/metrics`` pages are the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / ".cache" / "compiled" / "tree"
STAMP = TREE.parent / "sources.sha256"
DAY = ("--start", "2026-01-05T00:00:00Z", "--duration", "86400", "--rate", "30", "--agents", "40")


def sources() -> list[str]:
    """The checkout's files as git lists them (tracked, and untracked ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode()
    return sorted(
        name for name in listed.split("\0") if name and not name.startswith(".") and (REPO / name).is_file()
    )


def digest(names: list[str]) -> str:
    hashed = hashlib.sha256()
    for name in names:
        hashed.update(name.encode() + b"\0" + (REPO / name).read_bytes())
    return hashed.hexdigest()


def build() -> Path:
    """The compiled tree, made again if any file changed since it was made."""
    names = sources()
    wanted = digest(names)
    if STAMP.exists() and STAMP.read_text() == wanted and TREE.exists():
        print(f"compiled build: up to date in {TREE}", flush=True)
        return TREE
    shutil.rmtree(TREE, ignore_errors=True)
    for name in names:
        (TREE / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, TREE / name)
    print(f"compiled build: compiling setup.py's modules in {TREE} (about a minute) ...", flush=True)
    env = {**os.environ, "CCMETRICS_COMPILE": "1"}
    quiet = ["-W", "ignore"]  # setuptools' notices that its pyproject support is beta
    command = [sys.executable, *quiet, "setup.py", "-q", "build_ext", "--inplace"]
    subprocess.run(command, cwd=TREE, env=env, check=True, stdout=subprocess.DEVNULL)
    STAMP.write_text(wanted)
    return TREE


def in_tree(tree: Path, *command: str, capture: bool = False, secret: str | None = None) -> bytes:
    """A Python command run in ``tree`` with it first on the path (with a caller secret:
    repeat calls on); what it printed if ``capture``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    if secret is not None:
        env["CCMETRICS_CALLER_HASH_SECRET"] = secret
    stdout = subprocess.PIPE if capture else None
    return (
        subprocess.run([sys.executable, *command], cwd=tree, env=env, check=True, stdout=stdout).stdout or b""
    )


def replay_page(tree: Path, events: Path, secret: str) -> bytes:
    """The ``/metrics`` page that ``ccmetrics replay`` prints for ``events`` with ``tree``'s build."""
    return in_tree(tree, "-m", "stream.cli", "replay", str(events), capture=True, secret=secret)


def check_compiled(tree: Path) -> None:
    """Fail unless every module setup.py compiles, imported in ``tree``, is an extension module."""
    script = (
        "import importlib, pathlib, sys\n"
        "from setup import compiled_modules\n"
        "paths = [pathlib.Path(p) for p in compiled_modules(pathlib.Path('.'))]\n"
        "names = ['.'.join(p.with_suffix('').parts) for p in paths]\n"
        "files = [importlib.import_module(n.removesuffix('.__init__')).__file__ for n in names]\n"
        "plain = [n for n, f in zip(names, files) if not f.endswith('.so')]\n"
        "sys.exit(f'not compiled: {plain}' if plain else 0)\n"
    )
    in_tree(tree, "-c", script)
    print("compiled build: every module setup.py lists is compiled", flush=True)


def same_replay(tree: Path) -> None:
    """Replay one simulated day with both builds (repeat calls on); fail unless the pages are
    the same bytes."""
    with tempfile.TemporaryDirectory() as folder:
        day = Path(folder) / "day.jsonl"
        in_tree(REPO, "-m", "stream.cli", "simulate", "--seed", "7", "--output", str(day), *DAY)
        pages = [replay_page(where, day, "the compiled build's check") for where in (REPO, tree)]
    if pages[0] != pages[1]:
        raise SystemExit("compiled build: replay of a simulated day differs from the interpreted one")
    print(f"compiled build: replay of a simulated day is the same {len(pages[0]):,} bytes", flush=True)


def test() -> None:
    tree = build()
    check_compiled(tree)
    in_tree(tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not kafka and not soak")
    same_replay(tree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "test"))
    args = parser.parse_args(argv)
    if args.action == "build":
        build()
    else:
        test()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
