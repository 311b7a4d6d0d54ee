"""aiohttp response bodies seen through a `BodyTap` (rollup filter, direct-mode metering).

`TappedStreamReader` is a `StreamReader` that takes the place of `response.content` and fills
its buffer from the response's own reader whenever a read finds it empty: every reading method
of `StreamReader` (`read`, `readany`, `readline`, `readchunk`, `iter_*`, ...) waits for data in
`_wait()`, the one method overridden. The response's own reader cannot be wrapped in place: it
has `__slots__`, and the first bytes of the body are usually buffered in it before
`ClientResponse.start()` returns. It keeps the connection's flow control, read timeouts and the
end-of-body callback that releases the connection; the stand-in has none of its own.

Imported only when aiohttp is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.streams import StreamReader

from llmobserve._rollup import BodyTap


class _NoFlowControl:
    """The stand-in reader's protocol: the original reader does the real flow control."""

    connected = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class TappedStreamReader(StreamReader):
    """An aiohttp `StreamReader` filled, on demand, from `source` through `tap`."""

    __slots__ = ("_pulling", "_source", "_tap", "_tapped_done")

    def __init__(self, source: StreamReader, tap: BodyTap, limit: int = 2**16) -> None:
        super().__init__(_NoFlowControl(), limit, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
        self._source = source
        self._tap = tap
        self._pulling = False
        self._tapped_done = False

    def _end(self, error: BaseException | None = None) -> bytes:
        if self._tapped_done:
            return b""
        self._tapped_done = True
        return self._tap.close(error)

    async def _wait(self, func_name: str) -> None:
        if self._pulling:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        self._pulling = True
        try:
            chunk = await self._source.readany()
        except asyncio.CancelledError:
            raise  # the read may be tried again
        except BaseException as exc:
            self._end(exc)
            raise  # as the original reader raises it, on this read and the next ones
        finally:
            self._pulling = False
        if chunk:
            out = self._tap.feed(chunk)
            if out:
                self.feed_data(out)
            return
        tail = self._end()
        if tail:
            self.feed_data(tail)
        self.feed_eof()

    async def wait_eof(self) -> None:
        while not self._eof:
            await self._wait("wait_eof")

    def read_nowait(self, n: int = -1) -> bytes:
        # What the original reader holds has arrived already: pass it through first.
        if not self._eof and not self._pulling:
            if self._source.exception() is None and self._source.at_eof():
                tail = self._end()
                if tail:
                    self.feed_data(tail)
                self.feed_eof()
            else:
                held = self._source.read_nowait(-1)
                out = self._tap.feed(held) if held else b""
                if out:
                    self.feed_data(out)
        return super().read_nowait(n)

    def set_read_chunk_size(self, n: int) -> None:
        super().set_read_chunk_size(n)
        self._source.set_read_chunk_size(n)

    def set_exception(self, exc: BaseException, *args: Any, **kwargs: Any) -> None:
        # The response was released or closed before its end: record what was read.
        self._end()
        super().set_exception(exc, *args, **kwargs)
