"""api.ops.heap: the API freezes its heap once its lifetime data is loaded, and not before."""

from __future__ import annotations

import asyncio
import gc

from api.ops.heap import freeze_when


def test_the_heap_is_frozen_once_loaded_and_not_before() -> None:
    loaded = {"now": False}
    checks: list[int] = []
    asked_thrice = asyncio.Event()

    def is_loaded() -> bool:
        checks.append(gc.get_freeze_count())
        if len(checks) == 3:
            asked_thrice.set()
        return loaded["now"]

    async def run() -> None:
        task = asyncio.create_task(freeze_when(is_loaded, poll_s=0.001))
        await asyncio.wait_for(asked_thrice.wait(), 5)
        assert not task.done() and checks == [0, 0, 0]  # still waiting: nothing frozen
        loaded["now"] = True
        await asyncio.wait_for(task, 5)

    gc.unfreeze()
    try:
        asyncio.run(run())
        assert gc.get_freeze_count() > 1000  # the interpreter's and pytest's objects at least
    finally:
        gc.unfreeze()


def test_the_heap_is_frozen_after_the_wait_when_the_data_never_comes() -> None:
    gc.unfreeze()
    try:
        asyncio.run(asyncio.wait_for(freeze_when(lambda: False, poll_s=0.001, give_up_s=0.005), 5))
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
