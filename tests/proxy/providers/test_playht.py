"""Play.ht: characters of the request text, by voice engine."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_REQUEST_MODEL
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    facts,
    fake_upstream,
    fixture,
    observe,
    span_units,
)

PLAYHT = "playht"
REQUEST = fixture("playht", "tts_request.json")
TEXT = json.loads(REQUEST)["text"]
AUDIO = bytes(3000)


def test_detect() -> None:
    assert detect(PLAYHT, "POST", "/api/v2/tts/stream").operation == "text_to_speech"
    assert detect(PLAYHT, "POST", "/api/v2/tts").operation == "text_to_speech"
    assert detect_endpoint(PLAYHT, "GET", "/api/v2/voices") is None


def test_characters_come_from_the_request_text() -> None:
    endpoint = detect(PLAYHT, "POST", "/api/v2/tts/stream")

    assert facts(endpoint, REQUEST).units == {"characters": Decimal(len(TEXT))}
    result = observe(endpoint, AUDIO, request_body=REQUEST, content_type="audio/mpeg")

    assert result.units == {"characters": Decimal(50)} == {"characters": Decimal(len(TEXT))}
    assert result.dimensions == {"engine": "Play3.0-mini"}


def test_request_without_text_says_why() -> None:
    result = observe(detect(PLAYHT, "POST", "/api/v2/tts/stream"), AUDIO, request_body=b"not json")

    assert (result.units, result.problem) == ({}, "request has no text to count")


def test_through_the_proxy(start_proxy) -> None:
    with fake_upstream(
        {("POST", "/api/v2/tts/stream"): Reply(AUDIO, headers={"content-type": "audio/mpeg"})}
    ) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.play.ht": url})
        assert httpx.post(f"{proxy.url}/playht/api/v2/tts/stream", content=REQUEST).content == AUDIO

    attributes = proxy.span().attributes
    assert attributes[GEN_AI_REQUEST_MODEL] == "Play3.0-mini"
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"characters": 50.0})
