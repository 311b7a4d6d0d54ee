"""urllib3 response bodies seen through a `BodyTap` (rollup filter, direct-mode metering) on
their way to the application: the responses of `requests` and botocore.

`TappedUrllib3Body` stands in for `response.raw`, the urllib3 `HTTPResponse` that both read
every body through (`stream()`, `read()`, `read1()`, `readinto()`, `read_chunked()`,
iteration). Each reading method passes the bytes through the tap; everything else is the inner
response's. Lower seams would not do: urllib3 reads chunked bodies straight off the socket
file (`read_chunked`), and decodes inside `read()`, holding decoded bytes in its own buffer.
The tap sees the bytes as the caller asked for them - `requests` reads them decoded
(`stream(decode_content=True)`), botocore raw (`decode_content=False`) - and is told which on
the first read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from llmobserve._rollup import BodyTap

log = logging.getLogger("llmobserve")


class TappedUrllib3Body:
    """A urllib3 response whose body passes through `tap`; everything else is `inner`'s."""

    def __init__(self, inner: Any, tap: BodyTap) -> None:
        self._inner = inner
        self._tap = tap
        self._begun = False
        self._done = False
        self._pending = b""
        self._body: bytes | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet (a copy in the making): no endless lookup
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __enter__(self) -> TappedUrllib3Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin(self, decode_content: bool | None) -> None:
        if self._begun:
            return
        self._begun = True
        decoded = self._inner.decode_content if decode_content is None else decode_content
        encoding = (self._inner.headers.get("content-encoding") or "").strip().lower()
        self._tap.begin(bool(decoded) and encoding not in ("", "identity"))

    def _end(self, error: BaseException | None = None) -> bytes:
        if self._done:
            return b""
        self._done = True
        return self._tap.close(error)

    def _take(self, amt: int | None) -> bytes:
        if amt is None:
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:amt], self._pending[amt:]
        return out

    def stream(
        self, amt: int | None = 2**16, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        yield from self._chunks(self._inner.stream, amt, decode_content)

    def read_chunked(
        self, amt: int | None = None, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        yield from self._chunks(self._inner.read_chunked, amt, decode_content)

    def _chunks(self, source: Any, amt: int | None, decode_content: bool | None) -> Iterator[bytes]:
        self._begin(decode_content)
        if self._pending:
            yield self._take(None)
        if self._done:
            return
        try:
            for chunk in source(amt, decode_content=decode_content):
                out = self._tap.feed(chunk)
                if out:
                    yield out
        except GeneratorExit:
            raise  # the reader stopped early: `close()` ends the body
        except BaseException as exc:
            self._end(exc)
            raise
        tail = self._end()
        if tail:
            yield tail

    def read(
        self,
        amt: int | None = None,
        decode_content: bool | None = None,
        cache_content: bool = False,
    ) -> bytes:
        if amt is not None and amt < 0:
            amt = None
        if amt == 0:
            return b""
        self._begin(decode_content)
        # Up to `amt` bytes, possibly fewer before the end (as `io.RawIOBase.read`): the tap
        # may hold bytes back, and an empty result means the end of the body.
        while not self._done and (amt is None or not self._pending):
            try:
                data = self._inner.read(amt, decode_content=decode_content, cache_content=False)
            except BaseException as exc:
                self._end(exc)
                raise
            if data:
                self._pending += self._tap.feed(data)
            if not data or amt is None:  # `read()` without a size reads to the end
                self._pending += self._end()
        out = self._take(amt)
        if cache_content and amt is None:
            self._body = out
        return out

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        if amt is not None and amt < 0:
            amt = None
        if amt == 0:
            return b""
        self._begin(decode_content)
        while not self._done and not self._pending:
            try:
                data = self._inner.read1(amt, decode_content=decode_content)
            except BaseException as exc:
                self._end(exc)
                raise
            self._pending += self._tap.feed(data) if data else self._end()
        return self._take(amt)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    @property
    def data(self) -> bytes:
        if self._body is None:
            self._body = self.read()
        return self._body

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)

    def __iter__(self) -> Iterator[bytes]:
        # urllib3's iteration: the decoded body, line by line.
        buffer: list[bytes] = []
        for chunk in self.stream(decode_content=True):
            if b"\n" not in chunk:
                buffer.append(chunk)
                continue
            lines = chunk.split(b"\n")
            yield b"".join(buffer) + lines[0] + b"\n"
            for line in lines[1:-1]:
                yield line + b"\n"
            buffer = [lines[-1]] if lines[-1] else []
        if buffer:
            yield b"".join(buffer)

    def close(self) -> None:
        self._end()  # read partly, or not at all: record what was seen
        self._inner.close()

    def release_conn(self) -> None:
        self._end()
        self._inner.release_conn()

    def drain_conn(self) -> None:
        self._end()  # the rest is discarded unread
        self._inner.drain_conn()
