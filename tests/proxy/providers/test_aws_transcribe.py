"""AWS Transcribe: a COMPLETED job is seen, but its duration is not on the wire."""

from __future__ import annotations

import httpx

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_PROVIDER_NAME, LLMOBSERVE_COST_REASON, LLMOBSERVE_COST_STATUS
from tests.proxy.providers._services_support import Reply, detect, fake_upstream, fixture, observe

TRANSCRIBE = "aws.transcribe"
HOST = "transcribe.us-east-1.amazonaws.com"
GET_JOB = {"X-Amz-Target": "Transcribe.GetTranscriptionJob"}


def test_detect_uses_the_target_header_when_the_core_passes_it() -> None:
    assert detect_endpoint(TRANSCRIBE, "POST", "/", headers=GET_JOB) is not None
    assert (
        detect_endpoint(
            TRANSCRIBE, "POST", "/", headers={"x-amz-target": "Transcribe.StartTranscriptionJob"}
        )
        is None
    )
    assert (
        detect_endpoint(
            TRANSCRIBE, "POST", "/", headers={"X-Amz-Target": "Rekognition.GetTranscriptionJob"}
        )
        is not None
    )
    assert detect_endpoint(TRANSCRIBE, "GET", "/", headers=GET_JOB) is None


def test_detect_without_headers_meters_every_json_call() -> None:
    assert detect(TRANSCRIBE, "POST", "/").operation == "speech_to_text"
    assert detect_endpoint(TRANSCRIBE, "GET", "/") is None


def test_completed_job_says_the_duration_is_not_reported() -> None:
    body = fixture("aws_transcribe", "get_transcription_job_completed.json")

    result = observe(
        detect(TRANSCRIBE, "POST", "/"),
        body,
        request_body=b'{"TranscriptionJobName": "support-call-2024-06-11"}',
    )

    assert result.units == {}
    assert result.response_id == "support-call-2024-06-11"
    assert result.problem is not None
    assert result.problem.startswith(
        "job COMPLETED, but Transcribe does not report the media duration"
    )


def test_job_in_progress_is_not_billed_yet() -> None:
    body = fixture("aws_transcribe", "get_transcription_job_in_progress.json")

    result = observe(detect(TRANSCRIBE, "POST", "/"), body)

    assert result.problem == "job is IN_PROGRESS; not billed yet"


def test_other_responses_are_not_billed() -> None:
    result = observe(detect(TRANSCRIBE, "POST", "/"), b'{"TranscriptionJobSummaries": []}')

    assert result.problem == "not a transcription job response; nothing billed"


def test_json_error_type_comes_from_aws_type() -> None:
    result = observe(
        detect(TRANSCRIBE, "POST", "/"),
        fixture("aws_transcribe", "error_throttling.json"),
        status=400,
    )

    assert result.error_type == "LimitExceededException"


def test_completed_job_through_the_proxy(start_proxy) -> None:
    body = fixture("aws_transcribe", "get_transcription_job_completed.json")
    with fake_upstream(
        {("POST", "/"): Reply(body, headers={"content-type": "application/x-amz-json-1.1"})}
    ) as (url, _):
        proxy = start_proxy(upstream_overrides={HOST: url})
        response = httpx.post(
            f"{proxy.url}/transcribe/", content=b'{"TranscriptionJobName": "x"}', headers=GET_JOB
        )

    assert response.content == body
    attributes = proxy.span().attributes
    assert attributes[GEN_AI_PROVIDER_NAME] == TRANSCRIBE
    assert attributes[LLMOBSERVE_COST_STATUS] == "usage_unavailable"
    assert "does not report the media duration" in attributes[LLMOBSERVE_COST_REASON]
