"""OpenAI Chat Completions usage: JSON documents, error documents and streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricing import TokenUsage
from proxy.providers.openai import (
    ChatCompletions,
    ChatStreamReader,
    is_usage_chunk,
    read_usage,
    strip_null_usage,
)
from proxy.providers.result import CallResult, UsageError
from proxy.providers.sse import Event, EventSplitter, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai"
STREAM = (FIXTURES / "chat_completion_stream.txt").read_bytes()
STREAM_NO_USAGE = (FIXTURES / "chat_completion_stream_no_usage.txt").read_bytes()
STREAM_ID = "chatcmpl-Bq8Tz1cVkP0eLxR5WmHa9dYoGn2Js"
# The usage chunk of chat_completion_stream.txt.
STREAM_USAGE = TokenUsage(input_tokens=24, output_tokens=7)


def _document(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def _events(stream: bytes) -> list[Event]:
    return list(EventSplitter(1 << 20).feed(stream))


def _read_stream(stream: bytes) -> CallResult:
    reader = ChatStreamReader()
    for event in _events(stream):
        reader.on_event(event)
    return reader.result()


def _chunk(payload: object) -> Event:
    return parse_event(b"data: " + json.dumps(payload).encode() + b"\n\n")


def test_read_usage_keeps_prompt_tokens_as_input_because_they_include_cached() -> None:
    usage = read_usage(
        {
            "prompt_tokens": 2118,
            "completion_tokens": 36,
            "prompt_tokens_details": {"cached_tokens": 1920},
        }
    )

    assert usage == TokenUsage(input_tokens=2118, output_tokens=36, cache_read_tokens=1920)


def test_read_usage_keeps_completion_tokens_as_output_because_they_include_reasoning() -> None:
    usage = read_usage(
        {
            "prompt_tokens": 75,
            "completion_tokens": 1186,
            "completion_tokens_details": {"reasoning_tokens": 1024},
        }
    )

    assert usage == TokenUsage(input_tokens=75, output_tokens=1186, reasoning_tokens=1024)


def test_read_usage_treats_missing_or_null_details_as_zero() -> None:
    usage = read_usage(
        {
            "prompt_tokens": 10,
            "completion_tokens": 2,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": None},
        }
    )

    assert usage == TokenUsage(input_tokens=10, output_tokens=2)


@pytest.mark.parametrize("missing", ["prompt_tokens", "completion_tokens"])
def test_read_usage_raises_when_a_required_count_is_missing(missing: str) -> None:
    usage: dict[str, object] = {"prompt_tokens": 10, "completion_tokens": 2}
    del usage[missing]

    with pytest.raises(UsageError, match=missing):
        read_usage(usage)


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 2}, "negative"),
        ({"prompt_tokens": 10, "completion_tokens": 2.0}, "not a token count"),
        ({"prompt_tokens": "10", "completion_tokens": 2}, "not a token count"),
        ({"prompt_tokens": True, "completion_tokens": 2}, "not a token count"),
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": -3},
            },
            "negative",
        ),
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "completion_tokens_details": {"reasoning_tokens": False},
            },
            "not a token count",
        ),
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 11},
            },
            "exceed prompt_tokens",
        ),
    ],
    ids=[
        "negative",
        "float",
        "string",
        "bool",
        "negative-cached",
        "bool-reasoning",
        "cached-over-prompt",
    ],
)
def test_read_usage_raises_when_counts_are_invalid(usage: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_usage(usage)


def test_read_document_reads_fixture_with_cache_hit() -> None:
    result = ChatCompletions().read_document(_document("chat_completion.json"))

    assert result == CallResult(
        response_model="gpt-4o-mini-2024-07-18",
        response_id="chatcmpl-Bq7kXw2Lr9TfYc4NhVa0sEuJm3PiD",
        usage=TokenUsage(input_tokens=2118, output_tokens=36, cache_read_tokens=1920),
        finish_reasons=("stop",),
    )


def test_read_document_reads_fixture_with_reasoning() -> None:
    result = ChatCompletions().read_document(_document("chat_completion_reasoning.json"))

    assert result.response_model == "o3-mini-2025-01-31"
    assert result.usage == TokenUsage(input_tokens=75, output_tokens=1186, reasoning_tokens=1024)
    assert result.problem is None


def test_read_document_reports_problem_when_usage_is_missing() -> None:
    document = _document("chat_completion.json")
    assert isinstance(document, dict)
    del document["usage"]

    result = ChatCompletions().read_document(document)

    assert result.usage is None
    assert result.problem == "response has no usage object"
    assert result.response_model == "gpt-4o-mini-2024-07-18"
    assert result.finish_reasons == ("stop",)


def test_read_document_reports_problem_when_usage_is_invalid() -> None:
    document = _document("chat_completion.json")
    assert isinstance(document, dict)
    document["usage"]["completion_tokens"] = -36

    result = ChatCompletions().read_document(document)

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("unreadable usage:")
    assert "completion_tokens" in result.problem


@pytest.mark.parametrize("document", [[], "text", 3, None])
def test_read_document_reports_problem_when_body_is_not_an_object(document: object) -> None:
    result = ChatCompletions().read_document(document)

    assert result == CallResult(problem="response body is not a JSON object")


def test_read_error_reads_code_of_rate_limit_fixture() -> None:
    assert ChatCompletions().read_error(_document("error_rate_limit.json")) == "rate_limit_exceeded"


def test_read_error_falls_back_to_type_when_code_is_null() -> None:
    assert ChatCompletions().read_error(_document("error_server.json")) == "server_error"


@pytest.mark.parametrize("document", [{}, {"error": "boom"}, [], None, {"error": {"code": ""}}])
def test_read_error_is_none_when_document_has_no_error_object(document: object) -> None:
    assert ChatCompletions().read_error(document) is None


def test_stream_reader_reads_usage_chunk_of_fixture() -> None:
    result = _read_stream(STREAM)

    assert result == CallResult(
        response_model="gpt-4o-mini-2024-07-18",
        response_id=STREAM_ID,
        usage=STREAM_USAGE,
        finish_reasons=("stop",),
    )


def test_stream_reader_reports_problem_when_stream_has_no_usage() -> None:
    result = _read_stream(STREAM_NO_USAGE)

    assert result.usage is None
    assert result.problem == "stream reported no usage"
    assert result.response_model == "gpt-4o-mini-2024-07-18"
    assert result.response_id == STREAM_ID
    assert result.finish_reasons == ("stop",)


def test_stream_reader_reports_truncation_when_stream_ends_before_usage_chunk() -> None:
    cut = STREAM.index(b'"choices":[],"usage"')

    result = _read_stream(STREAM[:cut])

    assert result.usage is None
    assert result.problem == "stream ended before its usage chunk (truncated)"
    assert result.finish_reasons == ("stop",)


def test_stream_reader_keeps_usage_when_stream_ends_before_done() -> None:
    cut = STREAM.index(b"data: [DONE]")

    result = _read_stream(STREAM[:cut])

    assert result.usage == STREAM_USAGE
    assert result.problem is None


def test_stream_reader_reports_truncation_when_stream_is_empty() -> None:
    result = _read_stream(b"")

    assert result == CallResult(problem="stream ended before its usage chunk (truncated)")


def test_stream_reader_keeps_last_cumulative_usage() -> None:
    reader = ChatStreamReader()
    for prompt, completion in ((5, 1), (5, 4), (24, 7)):
        reader.on_event(
            _chunk(
                {
                    "id": "c",
                    "model": "m",
                    "choices": [],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
                }
            )
        )
    reader.on_event(parse_event(b"data: [DONE]\n\n"))

    assert reader.result().usage == TokenUsage(input_tokens=24, output_tokens=7)


def test_stream_reader_reports_problem_when_usage_chunk_is_invalid() -> None:
    reader = ChatStreamReader()
    reader.on_event(
        _chunk(
            {"model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": True}}
        )
    )
    reader.on_event(parse_event(b"data: [DONE]\n\n"))

    result = reader.result()

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("unreadable usage:")


def test_stream_reader_reports_problem_when_an_event_is_not_json() -> None:
    reader = ChatStreamReader()
    reader.on_event(parse_event(b"data: {not json\n\n"))
    reader.on_event(parse_event(b"data: [DONE]\n\n"))

    result = reader.result()

    assert result.usage is None
    assert result.problem == "stream carried an event that is not valid JSON"


def test_stream_reader_reads_error_event_code() -> None:
    reader = ChatStreamReader()
    reader.on_event(_events(STREAM)[0])
    reader.on_event(
        _chunk(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": "internal_error",
                }
            }
        )
    )

    result = reader.result()

    assert result.error_type == "internal_error"
    assert result.usage is None
    assert result.response_model == "gpt-4o-mini-2024-07-18"


def test_stream_reader_reads_error_event_type_when_code_is_null() -> None:
    reader = ChatStreamReader()
    reader.on_event(_chunk({"error": {"message": "m", "type": "server_error", "code": None}}))

    assert reader.result().error_type == "server_error"


def test_stream_reader_names_error_event_without_code_or_type() -> None:
    reader = ChatStreamReader()
    reader.on_event(_chunk({"error": {"message": "m"}}))

    assert reader.result().error_type == "stream_error"


def test_stream_reader_ignores_events_without_data() -> None:
    reader = ChatStreamReader()
    reader.on_event(parse_event(b": keep-alive\n\n"))

    assert reader.result() == CallResult(problem="stream ended before its usage chunk (truncated)")


def test_is_usage_chunk_is_true_only_for_the_usage_chunk_of_fixture() -> None:
    flags = [is_usage_chunk(event) for event in _events(STREAM)]

    assert flags == [False] * 9 + [True, False]


def test_is_usage_chunk_is_true_with_spaced_json() -> None:
    assert is_usage_chunk(parse_event(b'data: {"choices":[], "usage": {"prompt_tokens": 1}}\n\n'))


def test_is_usage_chunk_is_false_for_null_usage_with_empty_choices() -> None:
    assert not is_usage_chunk(parse_event(b'data: {"choices":[],"usage":null}\n\n'))


def test_strip_null_usage_turns_fixture_into_stream_without_usage() -> None:
    events = [e for e in _events(STREAM) if not is_usage_chunk(e)]

    assert b"".join(strip_null_usage(e.raw) for e in events) == STREAM_NO_USAGE


def test_strip_null_usage_removes_leading_member() -> None:
    assert strip_null_usage(b'data: {"usage":null,"id":"x"}\n\n') == b'data: {"id":"x"}\n\n'


def test_strip_null_usage_leaves_escaped_text_in_strings_alone() -> None:
    raw = b'data: {"choices":[{"delta":{"content":"say \\",\\"usage\\":null"}}]}\n\n'

    assert strip_null_usage(raw) == raw
