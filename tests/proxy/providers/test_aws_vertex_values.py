"""Every `gen_ai.provider.name` and `gen_ai.operation.name` the AWS and Vertex AI detectors
emit is a `semconv` value (official where the conventions define one, else ours)."""

from __future__ import annotations

import pytest

from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import aws_media
from semconv import GenAiOperationNameValues, GenAiProviderNameValues, generate


def _values(cls: type) -> set[str]:
    return {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


CALLS = [
    (
        "bedrock-runtime.us-east-1.amazonaws.com",
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse",
        {},
    ),
    (
        "bedrock-runtime.us-east-1.amazonaws.com",
        "POST",
        "/model/amazon.titan-embed-text-v2%3A0/invoke",
        {},
    ),
    ("polly.us-east-1.amazonaws.com", "POST", "/v1/speech", {}),
    ("polly.us-east-1.amazonaws.com", "GET", "/v1/synthesisTasks/t-1", {}),
    (
        "transcribe.us-east-1.amazonaws.com",
        "POST",
        "/",
        {"X-Amz-Target": "Transcribe.GetTranscriptionJob"},
    ),
    (
        "rekognition.us-east-1.amazonaws.com",
        "POST",
        "/",
        {"X-Amz-Target": "RekognitionService.DetectText"},
    ),
    ("rekognition.us-east-1.amazonaws.com", "POST", "/", {}),
    (
        "us-central1-aiplatform.googleapis.com",
        "POST",
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent",
        {},
    ),
    (
        "aiplatform.googleapis.com",
        "POST",
        "/v1/projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4:rawPredict",
        {},
    ),
]


@pytest.mark.parametrize(("host", "method", "path", "headers"), CALLS)
def test_emitted_provider_and_operation_names_are_semconv_values(
    host: str, method: str, path: str, headers: dict[str, str]
) -> None:
    provider = provider_for_host(host)
    assert provider is not None
    endpoint = detect_endpoint(provider.id, method, path, headers=headers)
    assert endpoint is not None, (host, path)

    assert provider.id in _values(GenAiProviderNameValues)
    assert endpoint.operation in _values(GenAiOperationNameValues)


def test_every_rekognition_operation_is_a_semconv_value() -> None:
    for operation in (*aws_media.IMAGE_OPERATIONS.values(), *aws_media.VIDEO_RESULTS):
        target = {"X-Amz-Target": f"RekognitionService.{operation}"}
        endpoint = detect_endpoint("aws.rekognition", "POST", "/", headers=target)
        assert endpoint is not None
        assert endpoint.operation in _values(GenAiOperationNameValues)


def test_generator_refuses_our_value_that_is_already_official() -> None:
    official = {
        "values": {
            "opentelemetry.semconv._incubating.attributes.gen_ai_attributes": {
                "GenAiOperationNameValues": ["CHAT"]
            }
        }
    }
    extra = {"GenAiOperationNameValues": [{"id": "chat2", "value": "chat", "brief": "x"}]}

    with pytest.raises(generate.ModelError, match="is official"):
        generate._official_lines(official, extra)


def test_generator_refuses_values_for_an_enum_not_listed_as_official() -> None:
    official = {"values": {}}
    extra = {"GenAiToolTypeValues": [{"id": "x", "value": "x", "brief": "x"}]}

    with pytest.raises(generate.ModelError, match="not in official"):
        generate._official_lines(official, extra)
