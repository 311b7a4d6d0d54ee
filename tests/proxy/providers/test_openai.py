"""OpenAI beyond Chat Completions: Responses, completions, embeddings, images, audio."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.base import Endpoint
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.result import CallResult
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    JSON,
    SSE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
)

RESPONSES = endpoint_for("openai", "/v1/responses")
COMPLETIONS = endpoint_for("openai", "/v1/completions")
EMBEDDINGS = endpoint_for("openai", "/v1/embeddings")
IMAGES = endpoint_for("openai", "/v1/images/generations")
EDITS = endpoint_for("openai", "/v1/images/edits")
TRANSCRIPTIONS = endpoint_for("openai", "/v1/audio/transcriptions")
SPEECH = endpoint_for("openai", "/v1/audio/speech")
RESPONSES_STREAM = fixture("openai/responses_stream.txt")
BOUNDARY = "----llmobserve7MA4YWxkTrZu0gW"


def _multipart(fields: dict[str, str], file_bytes: bytes = b"RIFF\x00\x01fake-wav") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


# Detection


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/v1/responses", "chat"),
        ("/v1/completions", "text_completion"),
        ("/v1/embeddings", "embeddings"),
        ("/v1/images/generations", "image_generation"),
        ("/v1/images/edits", "image_edit"),
        ("/v1/images/variations", "image_generation"),
        ("/v1/audio/transcriptions", "transcription"),
        ("/v1/audio/translations", "translation"),
        ("/v1/audio/speech", "speech"),
    ],
)
def test_detect_endpoint_finds_openai_endpoints_beyond_chat(path: str, operation: str) -> None:
    endpoint = detect_endpoint("openai", "POST", path)

    assert endpoint is not None
    assert endpoint.operation == operation


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/responses/resp_123"),  # reading a response again is not a new call
        ("GET", "/v1/responses"),
        ("POST", "/v1/moderations"),
        ("POST", "/v1/files"),
        ("POST", "/v1/batches"),
    ],
)
def test_detect_endpoint_leaves_free_or_unbilled_openai_paths_unmetered(
    method: str, path: str
) -> None:
    assert detect_endpoint("openai", method, path) is None


def test_detect_endpoint_asks_completion_streams_for_usage_but_not_responses() -> None:
    assert COMPLETIONS.stream_usage_opt_in
    assert not RESPONSES.stream_usage_opt_in


# Responses API


def test_responses_json_reads_cached_reasoning_and_web_search_calls() -> None:
    result = observe(RESPONSES, fixture("openai/responses.json"))

    assert result == CallResult(
        response_model="gpt-5-mini-2025-08-07",
        response_id="resp_68af4c2e9b1c8190a6f1d2e3c4b5a697",
        usage=TokenUsage(
            input_tokens=3250, output_tokens=512, cache_read_tokens=2048, reasoning_tokens=384
        ),
        finish_reasons=("completed",),
        units={"web_search_requests": Decimal(2)},
        dimensions={"service_tier": "default"},
    )


def test_responses_stream_reads_usage_from_response_completed() -> None:
    result = observe(RESPONSES, RESPONSES_STREAM, content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=19, output_tokens=10)
    assert result.response_model == "gpt-4.1-mini-2025-04-14"
    assert result.response_id == "resp_68af5d10c4a88193b2e1f0a9d8c7b6a5"
    assert result.dimensions == {"service_tier": "default"}
    assert result.problem is None


@pytest.mark.parametrize("seed", range(5))
def test_responses_stream_gives_same_usage_for_any_chunking(seed: int) -> None:
    result = observe(RESPONSES, RESPONSES_STREAM, content_type=SSE, seed=seed)

    assert result.usage == TokenUsage(input_tokens=19, output_tokens=10)


def test_responses_stream_reports_truncation_before_response_completed() -> None:
    cut = RESPONSES_STREAM.index(b"event: response.completed")

    result = observe(RESPONSES, RESPONSES_STREAM[:cut], content_type=SSE)

    assert result.usage is None
    assert result.problem == "stream ended before response.completed (truncated)"
    assert result.response_model == "gpt-4.1-mini-2025-04-14"


def test_responses_stream_ignores_unknown_event_types() -> None:
    unknown = b'event: response.future_thing\ndata: {"type":"response.future_thing","x":1}\n\n'
    stream = unknown + RESPONSES_STREAM + b": keep-alive\n\n"

    result = observe(RESPONSES, stream, content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=19, output_tokens=10)
    assert result.problem is None


def test_responses_stream_reads_error_type_of_response_failed() -> None:
    failed = {
        "type": "response.failed",
        "sequence_number": 3,
        "response": {
            "id": "resp_1",
            "model": "gpt-4.1",
            "status": "failed",
            "error": {"code": "server_error", "message": "The model failed."},
            "usage": None,
        },
    }
    stream = b"event: response.failed\ndata: " + json.dumps(failed).encode() + b"\n\n"

    result = observe(RESPONSES, stream, content_type=SSE)

    assert result.error_type == "server_error"
    assert result.usage is None
    assert result.finish_reasons == ("failed",)


def test_responses_incomplete_keeps_usage_and_names_the_reason() -> None:
    document = json.loads(fixture("openai/responses.json"))
    document["status"] = "incomplete"
    document["incomplete_details"] = {"reason": "max_output_tokens"}

    result = observe(RESPONSES, json.dumps(document).encode())

    assert result.finish_reasons == ("max_output_tokens",)
    assert result.usage is not None


def test_responses_reports_problem_when_cached_exceeds_input() -> None:
    document = json.loads(fixture("openai/responses.json"))
    document["usage"]["input_tokens_details"]["cached_tokens"] = 99999

    result = observe(RESPONSES, json.dumps(document).encode())

    assert result.usage is None
    assert result.problem is not None
    assert "cached_tokens" in result.problem


# Legacy completions and embeddings


def test_completions_json_reads_chat_shaped_usage() -> None:
    result = observe(COMPLETIONS, fixture("openai/completion.json"))

    assert result.usage == TokenUsage(input_tokens=5, output_tokens=7)
    assert result.response_model == "gpt-3.5-turbo-instruct:20230824-v2"
    assert result.finish_reasons == ("stop",)


def test_embeddings_json_reads_prompt_tokens_as_input_only() -> None:
    result = observe(EMBEDDINGS, fixture("openai/embeddings.json"))

    assert result == CallResult(
        response_model="text-embedding-3-small",
        usage=TokenUsage(input_tokens=17, output_tokens=0),
    )


# Images


def test_dalle_generation_counts_images_and_uses_request_size_and_quality() -> None:
    body = json.dumps(
        {"model": "dall-e-3", "prompt": "a fox", "n": 2, "size": "1792x1024", "quality": "hd"}
    ).encode()
    request = facts_for(IMAGES, body)

    result = observe(IMAGES, fixture("openai/images_dalle.json"), request=request)

    assert request.model == "dall-e-3"
    assert result.usage is None
    assert result.units == {"images": Decimal(2)}
    assert result.dimensions == {"size": "1792x1024", "quality": "hd"}
    assert result.problem is None


def test_dalle_request_fills_documented_default_size_and_quality() -> None:
    request = facts_for(IMAGES, json.dumps({"model": "dall-e-3", "prompt": "a fox"}).encode())

    assert request.units == {"images": Decimal(1)}
    assert request.dimensions == {"size": "1024x1024", "quality": "standard"}


def test_gpt_image_generation_reads_tokens_and_echoed_size_and_quality() -> None:
    request = facts_for(IMAGES, json.dumps({"model": "gpt-image-1", "prompt": "a fox"}).encode())

    result = observe(IMAGES, fixture("openai/images_gpt_image.json"), request=request)

    assert result.usage == TokenUsage(input_tokens=50, output_tokens=1056)
    assert result.units == {"images": Decimal(1)}
    assert result.dimensions == {"size": "1024x1536", "quality": "medium"}


def test_gpt_image_stream_reads_usage_of_completed_image() -> None:
    body = json.dumps({"model": "gpt-image-1", "prompt": "a fox", "stream": True}).encode()
    request = facts_for(IMAGES, body)

    result = observe(IMAGES, fixture("openai/images_stream.txt"), content_type=SSE, request=request)

    assert request.stream
    assert result.usage == TokenUsage(input_tokens=20, output_tokens=272)
    assert result.units == {"images": Decimal(1)}
    assert result.dimensions == {"size": "1024x1024", "quality": "low"}


def test_image_edit_request_is_read_from_multipart_form() -> None:
    body = _multipart(
        {"model": "gpt-image-1", "prompt": "add a hat", "n": "3", "size": "1024x1024"}
    )

    request = facts_for(EDITS, body)

    assert request.model == "gpt-image-1"
    assert request.body == body
    assert request.units == {"images": Decimal(3)}
    assert request.dimensions == {"size": "1024x1024"}


# Audio


def test_whisper_verbose_transcription_is_metered_in_seconds() -> None:
    request = facts_for(
        TRANSCRIPTIONS, _multipart({"model": "whisper-1", "response_format": "verbose_json"})
    )

    result = observe(TRANSCRIPTIONS, fixture("openai/transcription_verbose.json"), request=request)

    assert request.model == "whisper-1"
    assert not request.stream
    assert result == CallResult(units={"seconds": Decimal(9)})


def test_transcription_falls_back_to_top_level_duration() -> None:
    document = json.loads(fixture("openai/transcription_verbose.json"))
    del document["usage"]

    result = observe(TRANSCRIPTIONS, json.dumps(document).encode())

    assert result.units == {"seconds": Decimal("8.470000267028809")}


def test_gpt4o_transcription_reads_token_usage() -> None:
    result = observe(TRANSCRIPTIONS, fixture("openai/transcription_tokens.json"))

    assert result.usage == TokenUsage(input_tokens=14, output_tokens=45)


def test_transcription_stream_reads_usage_of_transcript_text_done() -> None:
    request = facts_for(
        TRANSCRIPTIONS, _multipart({"model": "gpt-4o-transcribe", "stream": "true"})
    )

    result = observe(TRANSCRIPTIONS, fixture("openai/transcription_stream.txt"), content_type=SSE)

    assert request.stream
    assert result.usage == TokenUsage(input_tokens=31, output_tokens=5)
    assert result.problem is None


def test_transcription_in_text_format_says_why_it_is_not_metered() -> None:
    result = observe(TRANSCRIPTIONS, b"Hello there.\n", content_type="text/plain; charset=utf-8")

    assert result.usage is None
    assert result.problem is not None
    assert "carry no usage" in result.problem


def test_speech_counts_characters_of_the_input() -> None:
    body = json.dumps({"model": "tts-1", "input": "Hello, wörld!", "voice": "alloy"}).encode()
    request = facts_for(SPEECH, body)

    result = observe(
        SPEECH, b"\xff\xfb\x90\x64" + bytes(range(256)), content_type="audio/mpeg", request=request
    )

    assert request.units == {"characters": Decimal(13)}
    assert result == CallResult(units={"characters": Decimal(13)})


def test_speech_sse_reads_token_usage_of_speech_audio_done() -> None:
    body = json.dumps(
        {"model": "gpt-4o-mini-tts", "input": "Hi there", "voice": "coral", "stream_format": "sse"}
    ).encode()
    request = facts_for(SPEECH, body)

    result = observe(SPEECH, fixture("openai/speech_stream.txt"), content_type=SSE, request=request)

    assert request.stream
    assert result.usage == TokenUsage(input_tokens=14, output_tokens=101)
    assert result.units == {"characters": Decimal(8)}


# Bad input: never an exception, always a reason


@pytest.mark.parametrize(
    ("endpoint", "body", "content_type"),
    [
        (RESPONSES, b"", JSON),
        (RESPONSES, HTML_ERROR_PAGE, "text/html"),
        (
            RESPONSES,
            fixture("openai/responses.json").replace(b"Europe is", b"Europe \xff\xfe"),
            JSON,
        ),
        (EMBEDDINGS, b"", JSON),
        (EMBEDDINGS, HTML_ERROR_PAGE, "text/html"),
        (IMAGES, b"", JSON),
        (IMAGES, HTML_ERROR_PAGE, "text/html"),
        (IMAGES, b"\xff\xfe not json", JSON),
        (TRANSCRIPTIONS, b"", JSON),
        (TRANSCRIPTIONS, b'{"text": "\xff"}', JSON),
        (RESPONSES, b"", SSE),
        (RESPONSES, b"data: {not json\n\n", SSE),
        (IMAGES, b"event: image_generation.completed\ndata: \xff\xfe\n\n", SSE),
        (TRANSCRIPTIONS, b'data: {"type":"transcript.text.delta"', SSE),
        (SPEECH, b'data: {"type":"speech.audio.delta","audio":"AA"}\n\n', SSE),
    ],
)
def test_bad_bodies_give_a_problem_not_an_exception(
    endpoint: Endpoint, body: bytes, content_type: str
) -> None:
    result = observe(endpoint, body, content_type=content_type)

    assert result.usage is None
    assert result.problem


def test_error_status_reads_openai_error_code_on_every_endpoint() -> None:
    body = fixture("openai/error_rate_limit.json")
    for endpoint in (RESPONSES, EMBEDDINGS, IMAGES, TRANSCRIPTIONS, SPEECH):
        result = observe(endpoint, body, status=429)

        assert result.error_type == "rate_limit_exceeded"
