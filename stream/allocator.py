"""The worker's memory allocator: jemalloc where it is installed, CPython's otherwise.

CPython's allocator keeps small objects in 1 MiB arenas that go back to the system only
when wholly empty. A worker keeps a few long-lived objects among the millions it makes per
event, so after a backlog or a recovery most arenas are partly free and all of them stay
resident (docs/performance.md, "Memory and the allocator"). jemalloc gives free memory back
page by page. ``ccmetrics worker`` therefore starts itself again, once, with jemalloc
preloaded and CPython's small-object allocator off (``PYTHONMALLOC=malloc``) when the
library is installed (Debian and Ubuntu: ``libjemalloc2``; the image has it).
``CCMETRICS_ALLOCATOR`` chooses: ``auto`` (the default: jemalloc if installed), ``jemalloc``
(fail if it is not) or ``python`` (CPython's). Usage::

    start_with_allocator("auto")   # returns only when this process goes on as it is
    allocator_in_use()             # "jemalloc" or "python"
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from stream.problems import UsageProblem

VARIABLE = "CCMETRICS_ALLOCATOR"
LIBRARY = "libjemalloc.so.2"
SEARCHED = ("/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")
# A background thread gives freed pages back (the event loop never waits for it), a second
# after they were freed; what it gives back is returned to the system at once.
MALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"


def library_path() -> str | None:
    """Where jemalloc is installed, if it is."""
    for folder in SEARCHED:
        found = sorted(glob.glob(os.path.join(folder, LIBRARY)))
        if found:
            return found[0]
    return None


def allocator_in_use() -> str:
    """``jemalloc`` if this process has it loaded (and CPython uses it), else ``python``."""
    maps = Path("/proc/self/maps")
    loaded = maps.exists() and LIBRARY in maps.read_text()
    return "jemalloc" if loaded and os.environ.get("PYTHONMALLOC") == "malloc" else "python"


def jemalloc_environment(environ: Mapping[str, str], library: str) -> dict[str, str]:
    """``environ`` with jemalloc preloaded and CPython's allocator off (an operator's own
    ``MALLOC_CONF`` and preloads are kept)."""
    preload = " ".join(part for part in (library, environ.get("LD_PRELOAD", "")) if part)
    return {
        **environ,
        "LD_PRELOAD": preload,
        "PYTHONMALLOC": "malloc",
        "MALLOC_CONF": environ.get("MALLOC_CONF", MALLOC_CONF),
    }


def start_with_allocator(choice: str) -> None:
    """Start this process again with jemalloc if ``choice`` and the machine say so; return
    when it goes on as it is. :class:`UsageProblem` when jemalloc was required but is missing."""
    if choice == "python" or allocator_in_use() == "jemalloc":
        return
    library = library_path()
    tried = LIBRARY in os.environ.get("LD_PRELOAD", "")  # started again already: never twice
    if library is None or tried:
        if choice == "jemalloc":
            raise UsageProblem(f"{VARIABLE}=jemalloc: {LIBRARY} is not installed or could not be preloaded")
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, jemalloc_environment(os.environ, library))
