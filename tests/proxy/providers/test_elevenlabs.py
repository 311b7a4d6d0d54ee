"""ElevenLabs: characters from the `character-cost` header, model from the request."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_REQUEST_MODEL, LLMOBSERVE_COST_STATUS
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    random_chunks,
    span_units,
)

ELEVENLABS = "elevenlabs"
REQUEST = fixture("elevenlabs", "tts_request.json")
AUDIO = b"ID3\x04" + bytes(range(256)) * 64


@pytest.mark.parametrize(
    "path",
    [
        "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb",
        "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream",
        "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/with-timestamps",
        "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream/with-timestamps",
        "/v1/sound-generation",
    ],
)
def test_detect_text_to_speech_paths(path: str) -> None:
    assert detect(ELEVENLABS, "POST", path).operation == "text_to_speech"


def test_detect_ignores_account_calls() -> None:
    assert detect_endpoint(ELEVENLABS, "GET", "/v1/voices") is None
    assert detect_endpoint(ELEVENLABS, "GET", "/v1/user") is None


@pytest.mark.parametrize("header", ["character-cost", "x-character-count"])
def test_streamed_audio_is_metered_from_the_header(header: str) -> None:
    endpoint = detect(ELEVENLABS, "POST", "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream")

    result = observe(
        endpoint,
        AUDIO,
        request_body=REQUEST,
        content_type="audio/mpeg",
        headers={header: "41", "request-id": "req_1"},
        chunks=random_chunks(AUDIO, max_size=2048),
    )

    assert result.units == {"characters": Decimal(41)}
    assert result.problem is None


def test_truncated_audio_still_counts_what_the_headers_said() -> None:
    endpoint = detect(ELEVENLABS, "POST", "/v1/text-to-speech/x/stream")

    result = observe(endpoint, AUDIO[:100], request_body=REQUEST, headers={"character-cost": "41"})

    assert result.units == {"characters": Decimal(41)}


def test_missing_header_says_why() -> None:
    result = observe(
        detect(ELEVENLABS, "POST", "/v1/text-to-speech/x"), AUDIO, request_body=REQUEST
    )

    assert (result.units, result.problem) == ({}, "response has no character-cost header")


def test_quota_error_type() -> None:
    body = fixture("elevenlabs", "error_quota.json")

    result = observe(detect(ELEVENLABS, "POST", "/v1/text-to-speech/x"), body, status=401)

    assert result.error_type == "quota_exceeded"


def test_tts_stream_through_the_proxy(start_proxy) -> None:
    path = "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream"
    reply = Reply(AUDIO, headers={"content-type": "audio/mpeg", "character-cost": "41"}, piece=512)
    with fake_upstream({("POST", path): reply}) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.elevenlabs.io": url})
        with httpx.stream("POST", f"{proxy.url}/elevenlabs{path}", content=REQUEST) as response:
            received = b"".join(response.iter_bytes())

    assert received == AUDIO
    attributes = proxy.span().attributes
    assert attributes[GEN_AI_REQUEST_MODEL] == "eleven_multilingual_v2"
    assert attributes[LLMOBSERVE_COST_STATUS] != "upstream_error"
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"characters": 41.0})
