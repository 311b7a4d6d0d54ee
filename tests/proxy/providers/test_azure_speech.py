"""Azure Speech: SSML characters for TTS, `Duration` ticks for short-audio STT."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services.azure_speech import billable_characters
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME
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

AZURE = "azure.speech"
SSML = fixture("azure_speech", "tts_request.ssml")
STT_PATH = "/speech/recognition/conversation/cognitiveservices/v1"


@pytest.mark.parametrize(
    "host",
    [
        "eastus.tts.speech.microsoft.com",
        "westeurope.stt.speech.microsoft.com",
        "eastus.api.cognitive.microsoft.com",
    ],
)
def test_regional_hosts(host: str) -> None:
    provider = provider_for_host(host)
    assert provider is not None and provider.id == AZURE


def test_detect() -> None:
    assert detect(AZURE, "POST", "/cognitiveservices/v1").operation == "text_to_speech"
    assert detect(AZURE, "POST", STT_PATH).operation == "speech_to_text"
    assert (
        detect(AZURE, "POST", "/speechtotext/transcriptions:transcribe").operation
        == "speech_to_text"
    )
    assert detect_endpoint(AZURE, "GET", "/cognitiveservices/voices/list") is None


def test_billable_characters_count_markup_and_white_space_inside_voice() -> None:
    # Billable: everything inside <voice> (markup, entities as sent, every white-space
    # character), not the <speak>/<voice> tags. The fixture's voice body is
    # "\n    " 5 + "Prices &amp; quotas " 20 + '<break time="300ms"/>' 21 + " are counted" 12
    # + "\n    " 5 + "per character." 14 + "\n  " 3 = 80.
    assert billable_characters(SSML.decode()) == 80
    assert billable_characters("<speak>a<break/>b</speak>") == 10


def test_billable_characters_count_chinese_characters_twice() -> None:
    # 你好 and 世界 are Han (2 each); the full-width comma is not: 5 code points + 4 = 9.
    zh = '<speak><voice name="zh-CN-XiaoxiaoNeural">你好\uff0c世界</voice></speak>'
    # Kana count once, kanji twice: こんにちは (5) + 世界 (2 + 2) = 9.
    ja = '<speak><voice name="ja-JP-NanamiNeural">こんにちは世界</voice></speak>'

    assert billable_characters(zh) == 9
    assert billable_characters(ja) == 9


def test_tts_characters_and_voice_from_the_ssml() -> None:
    endpoint = detect(AZURE, "POST", "/cognitiveservices/v1")
    assert facts(endpoint, SSML).model == "en-US-AvaMultilingualNeural"
    result = observe(
        endpoint,
        bytes(2000),
        request_body=SSML,
        content_type="audio/mpeg",
    )

    assert result.units == {"characters": Decimal(80)}


def test_tts_non_utf8_request_says_why() -> None:
    result = observe(
        detect(AZURE, "POST", "/cognitiveservices/v1"), b"", request_body=b"\xff\xfe<speak/>"
    )

    assert result.problem == "request body is not UTF-8 SSML; characters not counted"


def test_short_audio_duration_ticks_to_seconds() -> None:
    result = observe(detect(AZURE, "POST", STT_PATH), fixture("azure_speech", "stt_short.json"))

    assert result.units == {"seconds": Decimal("3.21")}


def test_fast_transcription_milliseconds() -> None:
    body = fixture("azure_speech", "fast_transcription.json")

    result = observe(detect(AZURE, "POST", "/speechtotext/transcriptions:transcribe"), body)

    assert result.units == {"seconds": Decimal("182.439")}


def test_no_match_without_duration() -> None:
    result = observe(
        detect(AZURE, "POST", STT_PATH), b'{"RecognitionStatus": "InitialSilenceTimeout"}'
    )

    assert result.problem == "response has no Duration (RecognitionStatus InitialSilenceTimeout)"


def test_tts_through_the_proxy(start_proxy) -> None:
    audio = bytes(range(256)) * 10
    with fake_upstream(
        {("POST", "/cognitiveservices/v1"): Reply(audio, headers={"content-type": "audio/mpeg"})}
    ) as (url, _):
        proxy = start_proxy(upstream_overrides={"eastus.tts.speech.microsoft.com": url})
        assert (
            httpx.post(f"{proxy.url}/azure-speech/cognitiveservices/v1", content=SSML).content
            == audio
        )

    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_PROVIDER_NAME], attributes[GEN_AI_OPERATION_NAME]) == (
        AZURE,
        "text_to_speech",
    )
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"characters": 80.0})
