"""nodes/plumbing/heap.py: settle_heap (start-up objects frozen, young collections rarer) and
tune_malloc (multi-MiB buffers from the heap, not a fresh mapping each)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref

import pytest

from nodes.plumbing.heap import GEN0_THRESHOLD, settle_heap


@pytest.fixture
def gc_state():  # noqa: ANN201 - the test process's collector as it was, afterwards
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert frozen == 0, "another test left objects frozen"
    yield threshold
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_heap_freezes_what_is_alive_and_raises_the_young_threshold(gc_state) -> None:  # noqa: ANN001
    kept = [[n] for n in range(1000)]  # alive now: frozen
    settle_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (GEN0_THRESHOLD, *gc_state[1:])
    assert GEN0_THRESHOLD > gc_state[0]


def test_settle_heap_collects_garbage_cycles_before_freezing(gc_state) -> None:  # noqa: ANN001
    class Cycle:
        pass

    gc.disable()  # no collection but settle_heap's own may free the cycle
    try:
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None  # a cycle: reference counting alone does not free it
        settle_heap(gen0_threshold=5000)
        assert alive() is None  # collected, not frozen for good
    finally:
        gc.enable()
    assert gc.get_threshold()[0] == 5000


# A process that passes a 4 MiB buffer through three copies 40 times, as a chunk goes through a
# node, in a worker thread as the files pump does; it reports the minor page faults per round.
_CHUNK_ROUNDS = """
import json, resource, sys, threading
from nodes.plumbing.heap import tune_malloc
applied = tune_malloc() if sys.argv[1] == "tune" else {}
faults = []
def rounds():
    for n in range(41):  # the first round (the heap growing to its size) is not counted
        if n == 1:
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
        data = bytes(4 << 20)
        sealed = data + b"tag"
        framed = b"frame" + sealed
        del data, sealed, framed
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
worker = threading.Thread(target=rounds)
worker.start()
worker.join()
print(json.dumps({"applied": applied, "faults": (faults[1] - faults[0]) / 40}))
"""


def _chunk_rounds(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _CHUNK_ROUNDS, mode], env=clean | env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def test_tune_malloc_serves_multi_mib_buffers_without_faulting_them_in_again() -> None:
    tuned = _chunk_rounds("tune", MALLOC_MMAP_THRESHOLD_="1048576", MALLOC_TRIM_THRESHOLD_="131072")
    assert tuned["applied"] == {"MALLOC_ARENA_MAX": 1}  # what the environment sets is left alone
    assert tuned["faults"] > 1000  # each 4 MiB buffer a fresh mapping: ~1,024 pages faulted per copy
    tuned = _chunk_rounds("tune")
    assert tuned["applied"] == {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 32 << 20,
                                "MALLOC_ARENA_MAX": 1}
    assert tuned["faults"] < 50  # the heap's freed buffers reused
