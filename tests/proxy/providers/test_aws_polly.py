"""AWS Polly: characters from `x-amzn-RequestCharacters`, engine from the request."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import aws_media
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL
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

POLLY = "aws.polly"
HOST = "polly.us-east-1.amazonaws.com"
REQUEST = fixture("aws_polly", "synthesize_request.json")
AUDIO = bytes(range(256)) * 40  # an mp3 body is opaque to the proxy
SPEECH = {"content-type": "audio/mpeg", "x-amzn-RequestCharacters": "46"}


def test_detect_speech_and_task_polls_only() -> None:
    assert detect(POLLY, "POST", "/v1/speech").operation == "text_to_speech"
    assert detect(POLLY, "GET", "/v1/synthesisTasks/6f3e2a1c").wire_format == aws_media.POLLY_TASK
    assert detect_endpoint(POLLY, "POST", "/v1/synthesisTasks") is None  # metered on completion
    assert detect_endpoint(POLLY, "GET", "/v1/voices") is None


def test_speech_characters_come_from_the_header_and_engine_from_the_request() -> None:
    endpoint = detect(POLLY, "POST", "/v1/speech")

    result = observe(
        endpoint,
        AUDIO,
        request_body=REQUEST,
        content_type="audio/mpeg",
        headers=SPEECH,
        chunks=random_chunks(AUDIO, max_size=4096),
    )

    assert result.units == {"characters": Decimal(46)}
    assert result.dimensions == {"engine": "neural"}
    assert result.problem is None


def test_speech_engine_defaults_to_standard() -> None:
    endpoint = detect(POLLY, "POST", "/v1/speech")

    result = observe(
        endpoint, AUDIO, request_body=b'{"Text": "Hi", "VoiceId": "Joanna"}', headers=SPEECH
    )

    assert result.dimensions == {"engine": "standard"}


@pytest.mark.parametrize("value", [None, "", "12.5", "-3", "lots"])
def test_speech_without_a_whole_character_count_says_why(value: str | None) -> None:
    headers = {"content-type": "audio/mpeg"}
    if value is not None:
        headers["x-amzn-RequestCharacters"] = value

    result = observe(
        detect(POLLY, "POST", "/v1/speech"), AUDIO, request_body=REQUEST, headers=headers
    )

    assert result.units == {}
    assert result.problem == "response has no x-amzn-RequestCharacters header"


def test_speech_request_that_is_not_json_still_forwards() -> None:
    result = observe(
        detect(POLLY, "POST", "/v1/speech"), AUDIO, request_body=b"\xff<html>", headers=SPEECH
    )

    assert result.units == {"characters": Decimal(46)}


def test_completed_synthesis_task_is_metered_once() -> None:
    endpoint = detect(POLLY, "GET", "/v1/synthesisTasks/6f3e2a1c-8b7d-4c2e-9a10-3d5f7e9b1c2a")
    aws_media.WIRE_FORMATS[aws_media.POLLY_TASK].ledger.clear()  # type: ignore[attr-defined]
    body = fixture("aws_polly", "synthesis_task_completed.json")

    first = observe(endpoint, body)
    again = observe(endpoint, body)

    assert first.units == {"characters": Decimal(5120)}
    assert first.dimensions == {"engine": "long-form"}
    assert first.response_model == "long-form"
    assert again.units == {}
    assert again.problem is not None and "already metered" in again.problem


def test_synthesis_task_in_progress_is_not_billed_yet() -> None:
    endpoint = detect(POLLY, "GET", "/v1/synthesisTasks/6f3e2a1c-8b7d-4c2e-9a10-3d5f7e9b1c2a")

    result = observe(endpoint, fixture("aws_polly", "synthesis_task_in_progress.json"))

    assert (result.units, result.problem) == ({}, "synthesis task is inProgress; not billed yet")


def test_speech_through_the_proxy(start_proxy) -> None:
    reply = Reply(AUDIO, headers=SPEECH, piece=1000)
    with fake_upstream({("POST", "/v1/speech"): reply}) as (url, upstream):
        proxy = start_proxy(upstream_overrides={HOST: url})
        response = httpx.post(f"{proxy.url}/polly/v1/speech", content=REQUEST)

    assert response.content == AUDIO
    assert upstream.received[0].body == REQUEST
    attributes = proxy.span().attributes
    assert attributes[GEN_AI_PROVIDER_NAME] == POLLY
    assert attributes[GEN_AI_OPERATION_NAME] == "text_to_speech"
    assert attributes[GEN_AI_REQUEST_MODEL] == "neural"
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"characters": 46.0})
