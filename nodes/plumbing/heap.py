"""The process's heap: glibc's malloc set for multi-MiB buffers at start-up (`tune_malloc`), and
the garbage collector after start-up: what a long-running hub or node holds for good is frozen
(`settle_heap`).

glibc serves every buffer above its mmap threshold with a fresh mapping that the kernel zeroes
page by page and unmaps when freed; an evidence chunk (4 MiB) passes through several such
buffers at each process, so a third of the sender's, hub's and recipient's CPU was page faults
and unmapping (perf, docs/evidence-files.md). `tune_malloc` serves buffers up to 32 MiB from the
heap and keeps up to 32 MiB of freed heap for the next chunk, in one arena (a thread's buffers
return to the memory the others reuse, so the peak stays bounded: docs/evidence-files.md has the
figures).

A started hub or node holds hundreds of thousands of objects for its whole life (SQLAlchemy
metadata and compiled caches, the federation, pamqp and structlog tables). CPython's cyclic
collector traversed them all on every generation-2 collection, and the default gen-0 threshold
(700 allocations) ran collections every few messages; together they were a tenth of the hub's CPU
per entry (issue 19, docs/performance.md). Reference counting still frees everything at once;
only cycles made after start-up wait for the (rarer) collections.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

GEN0_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)

# mallopt(3) parameters, and the environment variable with which an operator overrides each
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MALLOC_SETTINGS = {
    "MALLOC_MMAP_THRESHOLD_": (_M_MMAP_THRESHOLD, 32 << 20),
    "MALLOC_TRIM_THRESHOLD_": (_M_TRIM_THRESHOLD, 32 << 20),
    "MALLOC_ARENA_MAX": (_M_ARENA_MAX, 1),
}


def tune_malloc() -> dict[str, int]:
    """Apply MALLOC_SETTINGS through glibc's mallopt, except those the environment sets (glibc read
    them at start-up); call first thing in a process. Returns what was applied: nothing where the C
    library is not glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return {}
    applied = {}
    for name, (param, value) in MALLOC_SETTINGS.items():
        if name not in os.environ and mallopt(param, value) == 1:
            applied[name] = value
    return applied


def settle_heap(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect once, move every object alive now to the permanent generation (never traversed
    again), and collect the young generation every `gen0_threshold` allocations. Call once, after
    the process has started (its stores opened, its broker connection set up)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


__all__ = ["GEN0_THRESHOLD", "MALLOC_SETTINGS", "settle_heap", "tune_malloc"]
