"""Freed heap memory goes back to the system when the worker asks."""

from __future__ import annotations

from pathlib import Path

from stream.heap import give_back_free_memory

MB = 2**20


def _resident_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def test_memory_freed_between_live_blocks_leaves_the_process() -> None:
    blocks = [bytes(4096) for _ in range(40_000)]  # 160 MB on the C heap (over 512 bytes each)
    kept = blocks[::100]  # one in a hundred stays, the last one too: the heap cannot just shrink
    kept.append(blocks[-1])
    del blocks
    before = _resident_bytes()
    assert give_back_free_memory()
    released = before - _resident_bytes()
    assert released > 100 * MB, f"only {released / MB:.0f} MB released"
    assert len(kept) == 401
