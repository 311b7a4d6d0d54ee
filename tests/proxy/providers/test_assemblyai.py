"""AssemblyAI: transcripts are jobs, metered once, on the GET that shows them completed."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import voice
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_RESPONSE_ID
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    json_fixture,
    observe,
    random_chunks,
    span_units,
)

ASSEMBLYAI = "assemblyai"
TRANSCRIPT_ID = "6ntk9x3q2f-3b9c-4d7e-8f1a-2c4e6a8b0d1f"
COMPLETED = fixture("assemblyai", "transcript_completed.json")


def _ledger_clear() -> None:
    voice.WIRE_FORMATS[voice.ASSEMBLYAI_TRANSCRIPT].ledger.clear()  # type: ignore[attr-defined]


def test_detect_create_and_get() -> None:
    assert detect(ASSEMBLYAI, "POST", "/v2/transcript").operation == "speech_to_text"
    assert (
        detect(ASSEMBLYAI, "GET", f"/v2/transcript/{TRANSCRIPT_ID}").wire_format
        == voice.ASSEMBLYAI_TRANSCRIPT
    )
    assert detect_endpoint(ASSEMBLYAI, "DELETE", f"/v2/transcript/{TRANSCRIPT_ID}") is None
    assert detect_endpoint(ASSEMBLYAI, "POST", "/v2/upload") is None


def test_queued_transcript_is_not_billed_yet() -> None:
    result = observe(
        detect(ASSEMBLYAI, "POST", "/v2/transcript"),
        fixture("assemblyai", "transcript_queued.json"),
    )

    assert result.units == {}
    assert result.problem == "transcript is queued; metered once, when a GET shows it completed"


def test_completed_transcript_is_metered_once_across_polls() -> None:
    _ledger_clear()
    endpoint = detect(ASSEMBLYAI, "GET", f"/v2/transcript/{TRANSCRIPT_ID}")

    first = observe(endpoint, COMPLETED, chunks=random_chunks(COMPLETED))
    second = observe(endpoint, COMPLETED)

    assert first.units == {"seconds": Decimal(281)}
    assert first.response_model == "universal"
    assert first.response_id == TRANSCRIPT_ID
    assert second.units == {}
    assert second.problem == "transcript was already metered"


def test_completed_transcript_model_is_the_speech_model_used() -> None:
    # `speech_models` is a priority list; the model that ran is `speech_model_used`.
    _ledger_clear()
    body = fixture("assemblyai", "transcript_completed_speech_models.json")

    result = observe(detect(ASSEMBLYAI, "GET", "/v2/transcript/y"), body)

    assert result.units == {"seconds": Decimal(1800)}
    assert result.response_model == "universal-3-pro"


def test_ledger_is_bounded() -> None:
    ledger = voice.AssemblyAITranscript().ledger
    ledger._size = 2  # a small bound to see the oldest forgotten
    for key in ("a", "b", "c"):
        assert ledger.first(key, True)

    assert ledger.first("a", True)  # forgotten: would be metered again
    assert not ledger.first("c", True)


def test_failed_transcript_is_not_billed() -> None:
    result = observe(
        detect(ASSEMBLYAI, "GET", "/v2/transcript/x"),
        fixture("assemblyai", "transcript_error.json"),
    )

    assert result.units == {}
    assert result.problem is not None and result.problem.startswith("transcript is error")


def test_completed_without_duration_says_why() -> None:
    document = json_fixture("assemblyai", "transcript_completed.json")
    document["audio_duration"] = None
    body = __import__("json").dumps(document).encode()

    result = observe(detect(ASSEMBLYAI, "GET", "/v2/transcript/x"), body)

    assert result.problem == "completed transcript has no audio_duration"


def test_polling_through_the_proxy_meters_once(start_proxy) -> None:
    _ledger_clear()
    path = f"/v2/transcript/{TRANSCRIPT_ID}"
    with fake_upstream({("GET", path): Reply(COMPLETED)}) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.assemblyai.com": url})
        for _ in range(2):
            assert httpx.get(f"{proxy.url}/assemblyai{path}").content == COMPLETED

    first, second = (s.attributes for s in proxy.spans(2))
    assert first[GEN_AI_OPERATION_NAME] == "speech_to_text"
    assert first[GEN_AI_RESPONSE_ID] == TRANSCRIPT_ID
    assert_units_only_span(first)
    assert span_units(first) in (None, {"seconds": 281.0})
    assert span_units(second) in (None, {})
