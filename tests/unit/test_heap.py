"""settle_heap (nodes/plumbing/heap.py): start-up objects frozen, young collections rarer."""

from __future__ import annotations

import gc
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
