"""Giving the C heap's free pages back to the operating system.

CPython puts every object of more than 512 bytes (dict tables, large bytes, fetched Kafka
batches) on the C library's heap. glibc keeps what is freed there for reuse and returns
it only from the top of the heap, so after a burst (a recovery, a backlog read in big
fetches) the worker's resident memory stays at its peak. ``malloc_trim`` returns the free
pages from anywhere in the heap; it takes a few milliseconds. Usage::

    give_back_free_memory()   # False where the C library has no malloc_trim (musl, macOS)
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    function: Callable[[int], int] | None = getattr(libc, "malloc_trim", None)
    return function


_TRIM = _malloc_trim()


def give_back_free_memory() -> bool:
    """Return the C heap's free pages to the system; say whether the C library could."""
    if _TRIM is None:
        return False
    _TRIM(0)  # 0: keep no extra room at the top of the heap
    return True
