"""The watchdog's sweep: which calls it cancels, when, and why (the handler's side of it is
tested end to end in tests/reliability/test_faults.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from proxy.watchdog import (
    CONNECT_TIMEOUT,
    DISCONNECTED,
    NOT_WAITING,
    READ_TIMEOUT,
    Watch,
    Watchdog,
)


class Call:
    """A call in flight: a task waiting under its watch until told to release it."""

    def __init__(self, dog: Watchdog, receive: Callable[[], Awaitable[Any]] | None) -> None:
        self._dog = dog
        self._receive = receive
        self._ready: asyncio.Future[Watch] = asyncio.get_running_loop().create_future()
        self._end = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        watch = self._dog.watch(self._receive)
        self._ready.set_result(watch)
        await self._end.wait()
        self._dog.release(watch)  # from the call's own task, as the handler does
        await asyncio.Event().wait()

    async def release(self) -> None:
        self._end.set()
        await asyncio.sleep(0)


async def watched_call(
    dog: Watchdog, receive: Callable[[], Awaitable[Any]] | None = None
) -> tuple[asyncio.Task[None], Watch]:
    call = Call(dog, receive)
    return call.task, await call._ready


async def outcome(task: asyncio.Task[None]) -> str:
    await asyncio.sleep(0)
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return "running"
    return "cancelled" if task.cancelled() else "ended"


class Cycle:
    """The shape of uvicorn's RequestResponseCycle the watchdog relies on."""

    def __init__(self, messages: asyncio.Queue[dict[str, Any]] | None, read_paused: bool):
        self.disconnected = False
        self.flow = SimpleNamespace(read_paused=read_paused)
        self._messages = messages

    async def receive(self) -> dict[str, Any]:
        assert self._messages is not None, "the sweep reads the flag, not receive()"
        return await self._messages.get()


def uvicorn_cycle(
    messages: asyncio.Queue[dict[str, Any]] | None = None, *, read_paused: bool = False
) -> Cycle:
    return Cycle(messages, read_paused)


async def test_watchdog_cancels_a_call_whose_upstream_is_silent_past_the_timeout():
    dog = Watchdog(connect_timeout=10, upstream_timeout=5)
    task, watch = await watched_call(dog)
    dog.connected(watch)
    watch.since -= 4.9
    dog.sweep()
    assert watch.reason is None
    watch.since -= 0.2
    dog.sweep()
    assert watch.reason == READ_TIMEOUT
    assert await outcome(task) == "cancelled"
    assert "5 s" in str(watch.timeout_error())


async def test_watchdog_uses_the_connect_timeout_until_the_connection_is_made():
    dog = Watchdog(connect_timeout=2, upstream_timeout=600)
    task, watch = await watched_call(dog)
    watch.since -= 2.1
    dog.sweep()
    assert watch.reason == CONNECT_TIMEOUT
    assert await outcome(task) == "cancelled"
    assert "connection" in str(watch.timeout_error())


async def test_watchdog_counts_no_silence_while_the_proxy_writes_to_the_client():
    dog = Watchdog(connect_timeout=1, upstream_timeout=1)
    task, watch = await watched_call(dog)
    dog.connected(watch)
    watch.since = NOT_WAITING
    dog.sweep()
    assert await outcome(task) == "running"


async def test_watchdog_counts_no_silence_until_a_streamed_upload_is_sent():
    dog = Watchdog(connect_timeout=1, upstream_timeout=1)
    task, watch = await watched_call(dog)
    watch.uploading = True
    dog.connected(watch)
    assert watch.since == NOT_WAITING
    dog.sweep()
    assert watch.reason is None
    dog.uploaded(watch)
    watch.since -= 1.5
    dog.sweep()
    assert watch.reason == READ_TIMEOUT
    assert await outcome(task) == "cancelled"


async def test_watchdog_cancels_on_the_servers_disconnected_flag():
    dog = Watchdog(connect_timeout=10, upstream_timeout=10)
    cycle = uvicorn_cycle()
    task, watch = await watched_call(dog, cycle.receive)
    dog.sweep()
    assert watch.reason is None
    cycle.disconnected = True
    dog.sweep()
    assert watch.disconnected
    assert await outcome(task) == "cancelled"


async def test_watchdog_leaves_a_completed_or_released_call_alone():
    dog = Watchdog(connect_timeout=1, upstream_timeout=1)
    cycle = uvicorn_cycle()
    call = Call(dog, cycle.receive)
    watch = await call._ready
    watch.completed = True
    cycle.disconnected = True
    watch.since -= 5
    dog.sweep()
    assert watch.reason is None
    await call.release()
    watch.completed = False
    dog.sweep()
    assert await outcome(call.task) == "running"


@pytest.mark.parametrize("server", ["other", "uvicorn_reading_paused"])
async def test_watchdog_falls_back_to_a_receive_task_when_no_flag_can_be_trusted(server):
    dog = Watchdog(connect_timeout=10, upstream_timeout=10)
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    receive: Callable[[], Awaitable[Any]] = messages.get
    if server != "other":
        receive = uvicorn_cycle(messages, read_paused=True).receive
    task, watch = await watched_call(dog, receive)
    await messages.put({"type": "http.disconnect"})
    await asyncio.sleep(0.01)
    assert watch.reason == DISCONNECTED
    assert await outcome(task) == "cancelled"


async def test_watchdog_sweeps_every_quarter_second_at_most():
    assert Watchdog(connect_timeout=10, upstream_timeout=600).period == 0.25
    assert Watchdog(connect_timeout=10, upstream_timeout=0.4).period == pytest.approx(0.1)
    dog = Watchdog(connect_timeout=0.04, upstream_timeout=0.04)
    dog.start()
    task, watch = await watched_call(dog)
    await asyncio.sleep(0.2)
    assert watch.reason == CONNECT_TIMEOUT
    assert task.cancelled()
    await dog.stop()


async def test_a_released_watch_leaves_no_reference_cycle_behind():
    # The task's context holds the watch and the watch the task: one cycle a call for the
    # garbage collector, unless `release` undoes it.
    dog = Watchdog(connect_timeout=10, upstream_timeout=10)

    async def call() -> None:
        dog.release(dog.watch(uvicorn_cycle().receive))

    gc.disable()
    try:
        task = asyncio.create_task(call())
        await task
        await asyncio.sleep(0)
        freed = weakref.ref(task)
        del task
        assert freed() is None
    finally:
        gc.enable()
