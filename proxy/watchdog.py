"""Upstream timeouts and client disconnects for every call in flight, from one periodic sweep.

Per-call timers (a connect timeout, and a read timeout re-armed on every chunk, as aiohttp
kept them) and a task per call waiting on `receive()` for `http.disconnect` cost ~65 µs of CPU
a call on the reference machine (docs/benchmarks.md). Instead one task wakes every `period`
seconds, looks at the calls in flight and cancels those whose upstream has been silent too long
or whose client has gone; the handler turns that cancellation into the 504 or the
`client_disconnected` span it always gave. So a call fails between `timeout` and
`timeout + period` after the upstream's last byte, and within `period` of a disconnect.

Silence is counted as aiohttp's `sock_read` counted it: from the connection (or the last
byte) while the proxy waits on the upstream, not while it is busy writing to a slow client,
nor while a streamed request body is still being uploaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

import aiohttp

DISCONNECTED = "disconnected"
CONNECT_TIMEOUT = "connect_timeout"
READ_TIMEOUT = "read_timeout"
NOT_WAITING = math.inf
"""`Watch.since` while the proxy is not waiting on the upstream (no silence is counted)."""
MAX_PERIOD = 0.25  # the disconnect check must cancel the upstream call within a second


class Watch:
    """One call in flight: since when its upstream is silent, and why it was cancelled."""

    __slots__ = (
        "_cycle",
        "_watcher",
        "completed",
        "connecting",
        "limit",
        "reason",
        "since",
        "task",
        "uploading",
    )

    def __init__(self, task: asyncio.Task[Any], limit: float, cycle: Any) -> None:
        self.task = task
        self.since = monotonic()
        """When the upstream's silence began (`NOT_WAITING`: the proxy is not waiting)."""
        self.limit = limit
        """Seconds of silence allowed in the current phase (connecting, or reading)."""
        self.connecting = True
        self.uploading = False
        """A streamed request body is still going up: the upstream is not expected to talk."""
        self.reason: str | None = None
        """Why the watchdog cancelled the call: `DISCONNECTED`, or which timeout."""
        self.completed = False
        """The response is complete (or failing): the call is no longer cancelled."""
        self._cycle = cycle
        self._watcher: _DisconnectWatcher | None = None

    @property
    def disconnected(self) -> bool:
        return self.reason == DISCONNECTED

    def cancel(self, reason: str) -> None:
        if self.reason is None and not self.completed:
            self.reason = reason
            self.task.cancel()

    def timeout_error(self) -> aiohttp.ServerTimeoutError:
        """The timeout as an exception (aiohttp's classes, as before), for the span's event."""
        if self.reason == CONNECT_TIMEOUT:
            return aiohttp.ConnectionTimeoutError(f"no connection within {self.limit:g} s")
        return aiohttp.SocketTimeoutError(f"no byte from upstream within {self.limit:g} s")


class Watchdog:
    """Starts with the handler (`start`), stops with it (`stop`)."""

    def __init__(self, *, connect_timeout: float, upstream_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.upstream_timeout = upstream_timeout
        self.period = min(MAX_PERIOD, connect_timeout / 4, upstream_timeout / 4)
        self._calls: set[Watch] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def watch(self, receive: Callable[[], Awaitable[Any]] | None) -> Watch:
        """Watch the current task's call; `receive` to also watch for the client leaving (the
        request body has been read)."""
        task = asyncio.current_task()
        assert task is not None
        cycle = _server_cycle(receive) if receive is not None else None
        watch = Watch(task, self.connect_timeout, cycle)
        if receive is not None and cycle is None:
            watch._watcher = _DisconnectWatcher(receive, watch)
        self._calls.add(watch)
        return watch

    def release(self, watch: Watch) -> None:
        """The call has ended (called from the call's own task)."""
        self._calls.discard(watch)
        if watch._watcher is not None:
            watch._watcher.close(complete=watch.completed)
        watch.completed = True
        watch._cycle = None

    def connected(self, watch: Watch) -> None:
        watch.connecting = False
        watch.limit = self.upstream_timeout
        watch.since = NOT_WAITING if watch.uploading else monotonic()

    def uploaded(self, watch: Watch) -> None:
        """A streamed request body has gone up: the upstream's turn, so silence counts."""
        watch.uploading = False
        if not watch.connecting:
            watch.since = monotonic()

    def sweep(self) -> None:
        now = monotonic()
        for watch in tuple(self._calls):
            cycle = watch._cycle
            if cycle is not None and cycle.disconnected:
                watch.cancel(DISCONNECTED)
            elif now - watch.since > watch.limit:
                watch.cancel(CONNECT_TIMEOUT if watch.connecting else READ_TIMEOUT)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self.sweep()


def _server_cycle(receive: Callable[[], Awaitable[Any]]) -> Any:
    """uvicorn's request-response cycle behind `receive`, when its `disconnected` flag can be
    trusted: it is set when the connection is lost, which the server only notices while it
    reads the socket (it stops reading while a large body waits in its buffer)."""
    cycle = getattr(receive, "__self__", None)
    flow = getattr(cycle, "flow", None)
    if (
        getattr(cycle, "disconnected", None) is False
        and getattr(flow, "read_paused", None) is False
    ):
        return cycle
    return None


class _DisconnectWatcher:
    """For other ASGI servers: a task reading `receive()` until `http.disconnect`."""

    def __init__(self, receive: Callable[[], Awaitable[Any]], watch: Watch) -> None:
        self._receive = receive
        self._watch = watch
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._watch.cancel(DISCONNECTED)
                return

    def close(self, *, complete: bool) -> None:
        if not complete:
            self._task.cancel()
            return
        # The response is complete, so `receive()` is about to answer `http.disconnect` (ASGI
        # spec) and the watcher ends by itself on the next loop turn. Cancelling it now would
        # raise a CancelledError whose traceback cycle only the garbage collector can free:
        # one per call, measured as most of the collector's work (docs/benchmarks.md).
        asyncio.get_running_loop().call_soon(self._stop_if_pending)

    def _stop_if_pending(self) -> None:
        if not self._task.done():  # a server that does not answer: do not leave it waiting
            self._task.cancel()
