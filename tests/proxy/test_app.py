"""`freeze_start_up_heap`: what `llmobserve-proxy` does to the garbage collector, and undoes."""

from __future__ import annotations

import gc

from proxy.app import YOUNG_GENERATION_THRESHOLD, freeze_start_up_heap


def test_freeze_start_up_heap_freezes_and_raises_the_young_threshold_until_undone() -> None:
    before = gc.get_threshold()
    undo = freeze_start_up_heap()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    finally:
        undo()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
