"""The body wrappers the taps see responses through: urllib3's (requests, botocore) and
aiohttp's. Every way of reading gives the tapped bytes, and the tap ends exactly once."""

from __future__ import annotations

import asyncio
import copy
import gzip
import io
from typing import Any

import pytest
from aiohttp.streams import StreamReader
from urllib3.response import HTTPResponse

from llmobserve._aiohttp_body import TappedStreamReader
from llmobserve._urllib3_body import TappedUrllib3Body

BODY = b"line one\nline two\nlast"


class Recorder:
    """A tap that upper-cases what it is fed and adds `<end>` when the body ends."""

    def __init__(self) -> None:
        self.decoded: bool | None = None
        self.fed: list[bytes] = []
        self.closed: list[BaseException | None] = []

    def begin(self, decoded: bool) -> None:
        self.decoded = decoded

    def feed(self, chunk: bytes) -> bytes:
        self.fed.append(chunk)
        return chunk.upper()

    def close(self, error: BaseException | None = None) -> bytes:
        self.closed.append(error)
        return b"<end>"


TAPPED = BODY.upper() + b"<end>"


def urllib3_body(data: bytes = BODY, **headers: str) -> tuple[TappedUrllib3Body, Recorder]:
    inner = HTTPResponse(body=io.BytesIO(data), headers=headers, status=200, preload_content=False)
    tap = Recorder()
    return TappedUrllib3Body(inner, tap), tap


def test_urllib3_stream_passes_every_chunk_through_the_tap():
    body, tap = urllib3_body()
    assert b"".join(body.stream(4)) == TAPPED
    assert tap.closed == [None]
    assert tap.decoded is False


def test_urllib3_read_with_a_size_returns_at_most_that_and_ends_once():
    body, tap = urllib3_body()
    chunks = []
    while chunk := body.read(5):
        assert len(chunk) <= 5
        chunks.append(chunk)
    assert b"".join(chunks) == TAPPED
    assert body.read(5) == body.read() == b""
    assert tap.closed == [None]


def test_urllib3_read_to_the_end_and_readinto_and_read1():
    body, _ = urllib3_body()
    assert body.read() == TAPPED
    body, _ = urllib3_body()
    buffer = bytearray(64)
    size = body.readinto(buffer)
    assert buffer[:size] == TAPPED[:size]
    body, _ = urllib3_body()
    assert b"".join(iter(lambda: body.read1(3), b"")) == TAPPED


def test_urllib3_iteration_yields_lines():
    body, _ = urllib3_body()
    assert list(body) == [b"LINE ONE\n", b"LINE TWO\n", b"LAST<end>"]


@pytest.mark.parametrize("decode", [True, False])
def test_urllib3_tap_is_told_whether_the_body_arrives_decoded(decode):
    packed = gzip.compress(BODY)
    body, tap = urllib3_body(packed, **{"content-encoding": "gzip"})
    data = b"".join(body.stream(decode_content=decode))
    assert tap.decoded is decode
    assert b"".join(tap.fed) == (BODY if decode else packed)
    assert data.removesuffix(b"<end>") == (BODY if decode else packed).upper()


def test_urllib3_close_before_the_end_ends_the_tap_once():
    body, tap = urllib3_body()
    assert body.read(4) == b"LINE"
    body.close()
    body.release_conn()
    assert tap.closed == [None]
    assert body.closed


def test_urllib3_read_error_ends_the_tap_with_it():
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ConnectionResetError("gone")

    inner = HTTPResponse(body=Broken(), status=200, preload_content=False)
    tap = Recorder()
    body = TappedUrllib3Body(inner, tap)
    with pytest.raises(Exception, match="gone"):
        body.read()
    assert len(tap.closed) == 1
    assert tap.closed[0] is not None


def test_urllib3_everything_else_is_the_inner_responses():
    body, _ = urllib3_body(**{"x-request-id": "r1"})
    assert body.status == 200
    assert body.headers["x-request-id"] == "r1"


class _Protocol:
    connected = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def aiohttp_reader(*chunks: bytes, eof: bool = True) -> tuple[StreamReader, Recorder]:
    source = StreamReader(_Protocol(), 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    for chunk in chunks:
        source.feed_data(chunk)
    if eof:
        source.feed_eof()
    tap = Recorder()
    return TappedStreamReader(source, tap), tap


async def test_aiohttp_reads_of_every_kind_see_the_tapped_bytes():
    reader, tap = aiohttp_reader(b"line one\nline ", b"two\nlast")
    assert await reader.readline() == b"LINE ONE\n"
    assert await reader.readexactly(4) == b"LINE"
    assert [chunk async for chunk in reader.iter_chunked(3)] == [
        b" TW",
        b"O\nL",
        b"AST",
        b"<en",
        b"d>",
    ]
    assert reader.at_eof()
    assert tap.closed == [None]
    reader, _ = aiohttp_reader(BODY)
    assert await reader.read() == TAPPED
    reader, _ = aiohttp_reader(b"a\n", b"b\n")
    assert [line async for line in reader] == [b"A\n", b"B\n", b"<end>"]


async def test_aiohttp_bytes_arriving_later_are_pulled_on_demand():
    reader, tap = aiohttp_reader(eof=False)
    source = reader._source

    async def produce() -> None:
        await asyncio.sleep(0.01)
        source.feed_data(b"late")
        source.feed_eof()

    producer = asyncio.create_task(produce())
    assert await reader.readany() == b"LATE"
    assert await reader.readany() == b"<end>"
    assert await reader.readany() == b""
    await producer
    assert tap.closed == [None]


async def test_aiohttp_read_nowait_sees_what_has_arrived():
    reader, tap = aiohttp_reader(b"ab", b"cd")
    assert reader.read_nowait() == b"ABCD"
    assert reader.read_nowait() == b"<end>"
    assert reader.is_eof()
    assert tap.closed == [None]


async def test_aiohttp_release_before_the_end_ends_the_tap_and_raises_to_readers():
    reader, tap = aiohttp_reader(b"abc", eof=False)
    assert await reader.read(1) == b"A"
    reader.set_exception(ConnectionResetError("released"))
    assert tap.closed == [None]
    with pytest.raises(ConnectionResetError):
        await reader.read()


async def test_aiohttp_read_error_ends_the_tap_with_it():
    reader, tap = aiohttp_reader(eof=False)
    reader._source.set_exception(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await reader.read()
    assert [type(e) for e in tap.closed] == [ConnectionResetError]
    with pytest.raises(ConnectionResetError):
        await reader.read()  # as the response's own reader would, every time


async def test_aiohttp_wait_eof_reads_to_the_end_without_consuming():
    reader, tap = aiohttp_reader(b"abc")
    await reader.wait_eof()
    assert tap.closed == [None]
    assert await reader.read() == b"ABC<end>"


def test_urllib3_wrapper_can_be_copied():
    body, _ = urllib3_body()
    assert copy.copy(body).read() == TAPPED
