"""The garbage collector after start-up: what a long-running hub or node holds for good is frozen.

A started hub or node holds hundreds of thousands of objects for its whole life (SQLAlchemy
metadata and compiled caches, the federation, pamqp and structlog tables). CPython's cyclic
collector traversed them all on every generation-2 collection, and the default gen-0 threshold
(700 allocations) ran collections every few messages; together they were a tenth of the hub's CPU
per entry (issue 19, docs/performance.md). Reference counting still frees everything at once;
only cycles made after start-up wait for the (rarer) collections.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def settle_heap(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Collect once, move every object alive now to the permanent generation (never traversed
    again), and collect the young generation every `gen0_threshold` allocations. Call once, after
    the process has started (its stores opened, its broker connection set up)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


__all__ = ["GEN0_THRESHOLD", "settle_heap"]
