"""Deepgram: `metadata.duration` for /v1/listen, `dg-char-count` for /v1/speak."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_RESPONSE_MODEL
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

DEEPGRAM = "deepgram"
LISTEN = fixture("deepgram", "listen.json")
AUDIO = b"RIFF" + bytes(4000)


def test_detect() -> None:
    assert detect(DEEPGRAM, "POST", "/v1/listen").operation == "speech_to_text"
    assert detect(DEEPGRAM, "POST", "/v1/speak").operation == "text_to_speech"
    assert detect_endpoint(DEEPGRAM, "GET", "/v1/projects") is None


def test_listen_duration_and_model_arch() -> None:
    result = observe(
        detect(DEEPGRAM, "POST", "/v1/listen"),
        LISTEN,
        request_body=AUDIO,
        chunks=random_chunks(LISTEN),
    )

    assert result.units == {"seconds": Decimal("25.933313")}
    assert result.response_model == "nova-3"
    assert result.response_id == "5d6f2a9e-1b3c-4e5f-8a7b-9c0d1e2f3a4b"


def test_listen_callback_mode_says_the_duration_goes_elsewhere() -> None:
    result = observe(
        detect(DEEPGRAM, "POST", "/v1/listen"),
        fixture("deepgram", "listen_callback.json"),
        request_body=AUDIO,
    )

    assert result.units == {}
    assert result.problem is not None and "callback URL" in result.problem


def test_speak_characters_from_header() -> None:
    headers = {"dg-char-count": "36", "dg-model-name": "aura-2-thalia-en", "dg-request-id": "r1"}

    result = observe(
        detect(DEEPGRAM, "POST", "/v1/speak"), AUDIO, content_type="audio/mpeg", headers=headers
    )

    assert result.units == {"characters": Decimal(36)}
    assert result.response_model == "aura-2-thalia-en"


def test_speak_without_header() -> None:
    result = observe(detect(DEEPGRAM, "POST", "/v1/speak"), AUDIO, content_type="audio/mpeg")

    assert result.problem == "response has no dg-char-count header"


def test_listen_through_the_proxy(start_proxy) -> None:
    with fake_upstream({("POST", "/v1/listen"): Reply(LISTEN)}) as (url, upstream):
        proxy = start_proxy(upstream_overrides={"api.deepgram.com": url})
        response = httpx.post(f"{proxy.url}/deepgram/v1/listen?model=nova-3", content=AUDIO)

    assert response.content == LISTEN
    assert upstream.received[0].body == AUDIO
    attributes = proxy.span().attributes
    assert attributes[GEN_AI_RESPONSE_MODEL] == "nova-3"
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"seconds": 25.933313})
