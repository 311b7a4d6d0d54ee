"""ResponseObserver: forwards bytes untouched (or filtered), reads usage, never raises."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from pricing import TokenUsage
from proxy.providers import openai
from proxy.providers.endpoints import ANTHROPIC_MESSAGES, OPENAI_CHAT, Endpoint
from proxy.providers.result import CallResult
from proxy.providers.sse import Event
from proxy.providers.usage import ResponseObserver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPENAI_JSON = (FIXTURES / "openai/chat_completion.json").read_bytes()
OPENAI_STREAM = (FIXTURES / "openai/chat_completion_stream.txt").read_bytes()
OPENAI_STREAM_NO_USAGE = (FIXTURES / "openai/chat_completion_stream_no_usage.txt").read_bytes()
ANTHROPIC_JSON = (FIXTURES / "anthropic/message.json").read_bytes()
ANTHROPIC_STREAM = (FIXTURES / "anthropic/message_stream.txt").read_bytes()

OPENAI = Endpoint("chat", OPENAI_CHAT, stream_usage_opt_in=True)
ANTHROPIC = Endpoint("chat", ANTHROPIC_MESSAGES)
JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"
SEED = 1751882611

# Exact usage of the fixtures (see tests/fixtures/README.md).
OPENAI_JSON_USAGE = TokenUsage(input_tokens=2118, output_tokens=36, cache_read_tokens=1920)
OPENAI_STREAM_USAGE = TokenUsage(input_tokens=24, output_tokens=7)
ANTHROPIC_JSON_USAGE = TokenUsage(input_tokens=2045, output_tokens=29, cache_read_tokens=2031)
ANTHROPIC_STREAM_USAGE = TokenUsage(input_tokens=1852, output_tokens=14, cache_write_tokens=1843)


def _observer(
    endpoint: Endpoint = OPENAI,
    *,
    status: int = 200,
    content_type: str = JSON,
    content_encoding: str = "",
    drop_injected_usage: bool = False,
    max_parse_bytes: int = 1 << 20,
) -> ResponseObserver:
    return ResponseObserver(
        endpoint,
        status=status,
        content_type=content_type,
        content_encoding=content_encoding,
        drop_injected_usage=drop_injected_usage,
        max_parse_bytes=max_parse_bytes,
    )


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _random_chunks(data: bytes, rng: random.Random, max_size: int) -> list[bytes]:
    chunks, start = [], 0
    while start < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[start : start + size])
        start += size
    return chunks


def _observe_unchanged(observer: ResponseObserver, chunks: Iterable[bytes]) -> CallResult:
    """Feed every chunk, check each is forwarded as it came, and return what was read."""
    for chunk in chunks:
        assert observer.feed(chunk) == chunk
    tail, result = observer.finish()
    assert tail == b""
    return result


def _observe_filtered(
    observer: ResponseObserver, chunks: Iterable[bytes]
) -> tuple[bytes, CallResult]:
    """Feed every chunk in filter mode; return everything forwarded and what was read."""
    out = [observer.feed(chunk) for chunk in chunks]
    tail, result = observer.finish()
    return b"".join(out) + tail, result


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(wbits=wbits)
    return compressor.compress(data) + compressor.flush()


# JSON bodies


@pytest.mark.parametrize(
    ("endpoint", "body", "usage"),
    [(OPENAI, OPENAI_JSON, OPENAI_JSON_USAGE), (ANTHROPIC, ANTHROPIC_JSON, ANTHROPIC_JSON_USAGE)],
    ids=["openai", "anthropic"],
)
def test_observer_reads_json_body_fed_in_small_chunks(
    endpoint: Endpoint, body: bytes, usage: TokenUsage
) -> None:
    result = _observe_unchanged(_observer(endpoint), _chunks(body, 5))

    assert result.usage == usage
    assert result.problem is None


def test_observer_reads_json_body_when_content_type_is_missing() -> None:
    result = _observe_unchanged(_observer(content_type=""), [OPENAI_JSON])

    assert result.usage == OPENAI_JSON_USAGE


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("deflate", lambda data: _deflate(data, zlib.MAX_WBITS)),
        ("deflate", lambda data: _deflate(data, 16 + zlib.MAX_WBITS)),
    ],
    ids=["gzip", "x-gzip", "upper-case", "deflate-zlib", "deflate-gzip-wrapped"],
)
def test_observer_reads_compressed_json_and_forwards_compressed_bytes(
    encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = compress(OPENAI_JSON)
    assert body != OPENAI_JSON

    result = _observe_unchanged(_observer(content_encoding=encoding), _chunks(body, 7))

    assert result.usage == OPENAI_JSON_USAGE
    assert result.response_model == "gpt-4o-mini-2024-07-18"


def test_observer_reads_raw_deflate_json() -> None:
    body = _deflate(OPENAI_JSON, -zlib.MAX_WBITS)

    result = _observe_unchanged(_observer(content_encoding="deflate"), _chunks(body, 7))

    assert result.usage == OPENAI_JSON_USAGE


def test_observer_reads_gzip_anthropic_json_fed_byte_by_byte() -> None:
    body = gzip.compress(ANTHROPIC_JSON)

    result = _observe_unchanged(_observer(ANTHROPIC, content_encoding="gzip"), _chunks(body, 1))

    assert result.usage == ANTHROPIC_JSON_USAGE


def test_observer_reports_problem_and_forwards_bytes_when_encoding_is_unsupported() -> None:
    body = b"\x1b\x03\x00 pretend brotli"

    result = _observe_unchanged(_observer(content_encoding="br"), _chunks(body, 4))

    assert result == CallResult(problem="unsupported content-encoding 'br'")


def test_observer_reports_problem_when_gzip_body_is_corrupt() -> None:
    body = gzip.compress(OPENAI_JSON)
    corrupt = body[:20] + bytes(b ^ 0xFF for b in body[20:60]) + body[60:]

    result = _observe_unchanged(_observer(content_encoding="gzip"), _chunks(corrupt, 16))

    assert result.usage is None
    assert result.problem is not None


def test_observer_reports_invalid_compressed_data_when_gzip_body_is_corrupt() -> None:
    body = gzip.compress(OPENAI_JSON)
    corrupt = body[:20] + bytes(b ^ 0xFF for b in body[20:60]) + body[60:]

    result = _observe_unchanged(_observer(content_encoding="gzip"), _chunks(corrupt, 16))

    assert result.problem is not None
    assert "not valid gzip data" in result.problem


def test_observer_reports_problem_when_gzip_body_is_cut_short() -> None:
    body = gzip.compress(OPENAI_JSON)

    result = _observe_unchanged(_observer(content_encoding="gzip"), [body[: len(body) // 2]])

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("response body is not valid JSON")


def test_observer_reports_problem_when_json_body_exceeds_parse_limit() -> None:
    result = _observe_unchanged(_observer(max_parse_bytes=500), _chunks(OPENAI_JSON, 100))

    assert result == CallResult(problem="response body larger than 500 bytes; usage not read")


def test_observer_reads_json_body_exactly_at_parse_limit() -> None:
    result = _observe_unchanged(_observer(max_parse_bytes=len(OPENAI_JSON)), [OPENAI_JSON])

    assert result.usage == OPENAI_JSON_USAGE


def test_observer_reports_problem_when_gzip_json_inflates_past_parse_limit() -> None:
    body = gzip.compress(OPENAI_JSON)

    result = _observe_unchanged(
        _observer(content_encoding="gzip", max_parse_bytes=500), _chunks(body, 16)
    )

    assert result == CallResult(problem="response body larger than 500 bytes; usage not read")


def test_observer_reports_problem_when_body_is_empty() -> None:
    result = _observe_unchanged(_observer(), [])

    assert result == CallResult(problem="response body is empty")


def test_observer_reports_problem_when_body_is_invalid_json() -> None:
    body = OPENAI_JSON[:-40]

    result = _observe_unchanged(_observer(), _chunks(body, 64))

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("response body is not valid JSON (")


def test_observer_reports_problem_when_body_is_not_an_object() -> None:
    result = _observe_unchanged(_observer(), [b"[1, 2, 3]"])

    assert result == CallResult(problem="response body is not a JSON object")


def test_observer_reports_problem_and_forwards_bytes_when_body_is_invalid_utf8() -> None:
    body = OPENAI_JSON.replace(b"Section 4.2", b"Section \xff\xfe")

    result = _observe_unchanged(_observer(), _chunks(body, 50))

    assert result.usage is None
    assert result.problem is not None


def test_observer_reports_invalid_json_when_body_is_invalid_utf8() -> None:
    body = OPENAI_JSON.replace(b"Section 4.2", b"Section \xff\xfe")

    result = _observe_unchanged(_observer(), [body])

    assert result.problem is not None
    assert result.problem.startswith("response body is not valid JSON")


def test_observer_reports_problem_when_success_body_is_an_html_page() -> None:
    page = (FIXTURES / "openai/error_bad_gateway.html").read_bytes()

    result = _observe_unchanged(_observer(content_type="text/html"), [page])

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("response body is not valid JSON")


def test_observer_reports_problem_without_error_type_when_error_page_is_html() -> None:
    page = (FIXTURES / "openai/error_bad_gateway.html").read_bytes()

    result = _observe_unchanged(_observer(status=502, content_type="text/html"), _chunks(page, 9))

    assert result.error_type is None
    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("error body is not valid JSON (")


# Error statuses


@pytest.mark.parametrize(
    ("endpoint", "status", "fixture", "error_type"),
    [
        (OPENAI, 429, "openai/error_rate_limit.json", "rate_limit_exceeded"),
        (OPENAI, 500, "openai/error_server.json", "server_error"),
        (ANTHROPIC, 429, "anthropic/error_rate_limit.json", "rate_limit_error"),
        (ANTHROPIC, 500, "anthropic/error_api.json", "api_error"),
    ],
    ids=["openai-429", "openai-500", "anthropic-429", "anthropic-500"],
)
def test_observer_reads_error_type_when_status_is_an_error(
    endpoint: Endpoint, status: int, fixture: str, error_type: str
) -> None:
    body = (FIXTURES / fixture).read_bytes()

    result = _observe_unchanged(_observer(endpoint, status=status), _chunks(body, 10))

    assert result == CallResult(error_type=error_type)


def test_observer_reads_error_body_as_json_when_error_status_has_sse_content_type() -> None:
    body = (FIXTURES / "openai/error_rate_limit.json").read_bytes()

    result = _observe_unchanged(_observer(status=429, content_type=SSE), [body])

    assert result == CallResult(error_type="rate_limit_exceeded")


def test_observer_reads_gzip_error_body() -> None:
    body = gzip.compress((FIXTURES / "anthropic/error_rate_limit.json").read_bytes())

    result = _observe_unchanged(
        _observer(ANTHROPIC, status=429, content_encoding="gzip"), _chunks(body, 3)
    )

    assert result == CallResult(error_type="rate_limit_error")


# Streams


@pytest.mark.parametrize("content_type", [SSE, "text/event-stream", "Text/Event-Stream"])
def test_observer_reads_openai_stream_when_content_type_is_sse(content_type: str) -> None:
    result = _observe_unchanged(_observer(content_type=content_type), [OPENAI_STREAM])

    assert result.usage == OPENAI_STREAM_USAGE
    assert result.response_id == "chatcmpl-Bq8Tz1cVkP0eLxR5WmHa9dYoGn2Js"


def test_observer_reads_sse_body_as_json_when_content_type_is_json() -> None:
    result = _observe_unchanged(_observer(content_type=JSON), [OPENAI_STREAM])

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("response body is not valid JSON")


@pytest.mark.parametrize(
    ("endpoint", "stream", "usage"),
    [
        (OPENAI, OPENAI_STREAM, OPENAI_STREAM_USAGE),
        (ANTHROPIC, ANTHROPIC_STREAM, ANTHROPIC_STREAM_USAGE),
    ],
    ids=["openai", "anthropic"],
)
def test_observer_reads_stream_fed_byte_by_byte(
    endpoint: Endpoint, stream: bytes, usage: TokenUsage
) -> None:
    result = _observe_unchanged(_observer(endpoint, content_type=SSE), _chunks(stream, 1))

    assert result.usage == usage
    assert result.problem is None


@pytest.mark.parametrize(
    ("endpoint", "stream", "usage"),
    [
        (OPENAI, OPENAI_STREAM, OPENAI_STREAM_USAGE),
        (ANTHROPIC, ANTHROPIC_STREAM, ANTHROPIC_STREAM_USAGE),
    ],
    ids=["openai", "anthropic"],
)
def test_observer_reads_gzip_stream_fed_in_small_chunks(
    endpoint: Endpoint, stream: bytes, usage: TokenUsage
) -> None:
    body = gzip.compress(stream)

    result = _observe_unchanged(
        _observer(endpoint, content_type=SSE, content_encoding="gzip"), _chunks(body, 5)
    )

    assert result.usage == usage
    assert result.problem is None


def test_observer_reads_gzip_stream_when_one_chunk_inflates_past_parse_limit() -> None:
    body = gzip.compress(OPENAI_STREAM)
    # Each event is under 480 bytes; each half of the body inflates to well over 600.

    result = _observe_unchanged(
        _observer(content_type=SSE, content_encoding="gzip", max_parse_bytes=600),
        _chunks(body, len(body) // 2 + 1),
    )

    assert result.usage == OPENAI_STREAM_USAGE
    assert result.problem is None


def test_observer_reports_truncation_when_stream_is_empty() -> None:
    result = _observe_unchanged(_observer(content_type=SSE), [])

    assert result == CallResult(problem="stream ended before its usage chunk (truncated)")


def test_observer_reports_problem_but_keeps_usage_when_a_stream_event_exceeds_parse_limit() -> None:
    big = b'data: {"choices":[{"delta":{"content":"' + b"x" * 2000 + b'"}}],"usage":null}\n\n'
    done = OPENAI_STREAM.index(b"data: [DONE]")
    usage_start = OPENAI_STREAM.rindex(b"data: ", 0, done)
    stream = OPENAI_STREAM[:usage_start] + big + OPENAI_STREAM[usage_start:]

    result = _observe_unchanged(
        _observer(content_type=SSE, max_parse_bytes=1000), _chunks(stream, 100)
    )

    assert result.usage == OPENAI_STREAM_USAGE
    assert result.problem.startswith("a stream event exceeded the parse limit")


def test_observer_reports_parse_limit_when_usage_event_exceeds_it() -> None:
    result = _observe_unchanged(
        _observer(content_type=SSE, max_parse_bytes=100), _chunks(OPENAI_STREAM, 50)
    )

    assert result.usage is None
    assert result.problem.startswith("a stream event exceeded the parse limit")


def test_observer_forwards_stream_and_reports_problem_when_encoding_is_unsupported() -> None:
    result = _observe_unchanged(
        _observer(content_type=SSE, content_encoding="br"), _chunks(OPENAI_STREAM, 64)
    )

    assert result.usage is None
    assert result.problem is not None


def test_observer_reports_unsupported_encoding_when_stream_is_brotli() -> None:
    result = _observe_unchanged(
        _observer(content_type=SSE, content_encoding="br"), _chunks(OPENAI_STREAM, 64)
    )

    assert result.problem == "unsupported content-encoding 'br'"


def test_observer_forwards_bytes_and_reports_problem_when_parser_crashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def crash(self: openai.ChatStreamReader, event: Event) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(openai.ChatStreamReader, "on_event", crash)

    result = _observe_unchanged(_observer(content_type=SSE), _chunks(OPENAI_STREAM, 100))

    assert result == CallResult(problem="parser error: RuntimeError")


# Filtering the usage the proxy asked for on the client's behalf


def _filtering_observer(max_parse_bytes: int = 1 << 20) -> ResponseObserver:
    return _observer(content_type=SSE, drop_injected_usage=True, max_parse_bytes=max_parse_bytes)


def test_fixture_streams_with_and_without_usage_correspond() -> None:
    # The filter tests rely on this: same chunks, only `"usage":null` and the usage chunk differ.
    with_usage = OPENAI_STREAM.replace(b',"usage":null', b"")
    usage_chunk_start = with_usage.rindex(b"data: {")
    usage_chunk_end = with_usage.index(b"\n\n", usage_chunk_start) + 2

    assert with_usage[:usage_chunk_start] + with_usage[usage_chunk_end:] == OPENAI_STREAM_NO_USAGE


@pytest.mark.parametrize(
    ("status", "content_type", "content_encoding", "drop_injected_usage", "filtering"),
    [
        (200, SSE, "", True, True),
        (200, SSE, "identity", True, True),
        (200, SSE, "", False, False),
        (200, JSON, "", True, False),
        (200, SSE, "gzip", True, False),
        (400, SSE, "", True, False),
    ],
    ids=["sse", "identity", "not-injected", "json", "gzip", "error-status"],
)
def test_observer_filters_only_identity_encoded_injected_streams(
    status: int,
    content_type: str,
    content_encoding: str,
    drop_injected_usage: bool,
    filtering: bool,
) -> None:
    observer = _observer(
        status=status,
        content_type=content_type,
        content_encoding=content_encoding,
        drop_injected_usage=drop_injected_usage,
    )

    assert observer.filtering is filtering


def test_observer_forwards_gzip_stream_unchanged_when_usage_was_injected() -> None:
    body = gzip.compress(OPENAI_STREAM)
    observer = _observer(content_type=SSE, content_encoding="gzip", drop_injected_usage=True)

    result = _observe_unchanged(observer, _chunks(body, 32))

    assert result.usage == OPENAI_STREAM_USAGE


def test_observer_filtering_turns_stream_into_stream_without_usage() -> None:
    out, result = _observe_filtered(_filtering_observer(), [OPENAI_STREAM])

    assert out == OPENAI_STREAM_NO_USAGE
    assert result.usage == OPENAI_STREAM_USAGE
    assert result.response_model == "gpt-4o-mini-2024-07-18"
    assert result.finish_reasons == ("stop",)
    assert result.problem is None


def test_observer_filtering_gives_same_bytes_when_fed_byte_by_byte() -> None:
    out, result = _observe_filtered(_filtering_observer(), _chunks(OPENAI_STREAM, 1))

    assert out == OPENAI_STREAM_NO_USAGE
    assert result.usage == OPENAI_STREAM_USAGE


def test_observer_filtering_gives_same_bytes_when_split_at_any_position() -> None:
    for cut in range(1, len(OPENAI_STREAM)):
        chunks = [OPENAI_STREAM[:cut], OPENAI_STREAM[cut:]]
        out, result = _observe_filtered(_filtering_observer(), chunks)

        assert out == OPENAI_STREAM_NO_USAGE, cut
        assert result.usage == OPENAI_STREAM_USAGE, cut


def test_observer_filtering_gives_same_bytes_when_fed_random_chunks() -> None:
    rng = random.Random(SEED)
    for max_size in (3, 40, 400, 4000):
        for _ in range(25):
            out, result = _observe_filtered(
                _filtering_observer(), _random_chunks(OPENAI_STREAM, rng, max_size)
            )

            assert out == OPENAI_STREAM_NO_USAGE
            assert result.usage == OPENAI_STREAM_USAGE


def test_observer_filtering_keeps_crlf_framing() -> None:
    stream = OPENAI_STREAM.replace(b"\n", b"\r\n")
    expected = OPENAI_STREAM_NO_USAGE.replace(b"\n", b"\r\n")

    out, result = _observe_filtered(_filtering_observer(), _chunks(stream, 13))

    assert out == expected
    assert result.usage == OPENAI_STREAM_USAGE


def test_observer_filtering_forwards_incomplete_tail_when_stream_is_cut() -> None:
    cut = OPENAI_STREAM.index(b'"content":" capital"') + 5
    event_start = OPENAI_STREAM.rindex(b"data: ", 0, cut)
    complete = OPENAI_STREAM[:event_start]
    expected = complete.replace(b',"usage":null', b"") + OPENAI_STREAM[event_start:cut]

    out, result = _observe_filtered(_filtering_observer(), _chunks(OPENAI_STREAM[:cut], 10))

    assert out == expected
    assert result.usage is None
    assert result.problem == "stream ended before its usage chunk (truncated)"


def test_observer_filtering_leaves_stream_without_usage_unchanged() -> None:
    out, result = _observe_filtered(_filtering_observer(), _chunks(OPENAI_STREAM_NO_USAGE, 17))

    assert out == OPENAI_STREAM_NO_USAGE
    assert result.usage is None
    assert result.problem == "stream reported no usage"


def test_observer_filtering_forwards_event_that_exceeds_parse_limit() -> None:
    big = b'data: {"choices":[{"delta":{"content":"' + b"x" * 2000 + b'"}}],"usage":null}\n\n'
    first = OPENAI_STREAM.index(b"data: ", 1)
    stream = OPENAI_STREAM[:first] + big + OPENAI_STREAM[first:]
    no_usage = OPENAI_STREAM_NO_USAGE
    expected = (
        no_usage[: no_usage.index(b"data: ", 1)] + big + no_usage[no_usage.index(b"data: ", 1) :]
    )

    out, result = _observe_filtered(_filtering_observer(max_parse_bytes=1000), _chunks(stream, 100))

    # Whether or not the oversized event is filtered, none of its bytes may be lost.
    assert out.replace(b',"usage":null', b"") == expected.replace(b',"usage":null', b"")
    assert result.usage == OPENAI_STREAM_USAGE


def test_observer_filtering_forwards_held_back_bytes_when_parser_crashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_on_event = openai.ChatStreamReader.on_event
    calls: list[Event] = []

    def crash_on_second_event(self: openai.ChatStreamReader, event: Event) -> None:
        calls.append(event)
        if len(calls) == 2:
            raise RuntimeError("parser bug")
        real_on_event(self, event)

    monkeypatch.setattr(openai.ChatStreamReader, "on_event", crash_on_second_event)
    second = OPENAI_STREAM.index(b"data: ", 1)
    chunks = [OPENAI_STREAM[: second + 10], OPENAI_STREAM[second + 10 :]]

    out, result = _observe_filtered(_filtering_observer(), chunks)

    # The reader stopped, the byte filtering did not: the client still gets exactly the
    # stream it asked for.
    assert out == OPENAI_STREAM_NO_USAGE
    assert result.problem == "parser error: RuntimeError"
