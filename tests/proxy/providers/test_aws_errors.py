"""AWS error responses: `error.type` is the AWS error code, whichever way AWS sends it.

`x-amzn-errortype` first (restJson1 services such as Bedrock and Polly put the code nowhere
else), then the body's `code`/`__type` (awsJson1_1: Transcribe, Rekognition), then the HTTP
status (set by the span code when no code is found). Shapes:
https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization ,
https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html ,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html#API_runtime_InvokeModel_Errors
"""

from __future__ import annotations

from email.message import Message

import httpx
import pytest

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services._aws import body_error, error_code
from semconv import ERROR_TYPE, GEN_AI_OPERATION_NAME, LLMOBSERVE_COST_STATUS
from tests.proxy.providers._services_support import Reply, detect, fake_upstream, fixture, observe

BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
INVOKE = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
THROTTLED = {
    "content-type": "application/json",
    "x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "ThrottlingException",
        ),
        (
            "aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon/",
            "FooError",
        ),
        ("com.amazonaws.transcribe#LimitExceededException", "LimitExceededException"),
        ("ValidationException", "ValidationException"),
        ("  AccessDeniedException  ", "AccessDeniedException"),
        (":http://internal.amazon.com/", None),
        ("", None),
        (None, None),
    ],
)
def test_error_code_keeps_the_code_without_namespace_or_url(
    value: str | None, code: str | None
) -> None:
    assert error_code(value) == code


def test_bedrock_error_type_comes_from_the_errortype_header() -> None:
    result = observe(
        detect("aws.bedrock", "POST", INVOKE),
        fixture("aws_bedrock", "error_throttling.json"),
        status=429,
        headers=THROTTLED,
    )

    assert result.error_type == "ThrottlingException"


def test_polly_error_type_comes_from_the_errortype_header() -> None:
    result = observe(
        detect("aws.polly", "POST", "/v1/speech"),
        fixture("aws_polly", "error_text_length_exceeded.json"),
        status=400,
        headers={"x-amzn-ErrorType": "TextLengthExceededException:"},
    )

    assert result.error_type == "TextLengthExceededException"


def test_json_protocol_error_type_comes_from_the_body_without_the_header() -> None:
    rekognition = observe(
        detect("aws.rekognition", "POST", "/"),
        fixture("aws_rekognition", "error_invalid_image_format.json"),
        status=400,
        content_type="application/x-amz-json-1.1",
    )
    transcribe = observe(
        detect("aws.transcribe", "POST", "/"),
        fixture("aws_transcribe", "error_throttling.json"),
        status=400,
        content_type="application/x-amz-json-1.1",
    )

    assert rekognition.error_type == "InvalidImageFormatException"
    assert transcribe.error_type == "LimitExceededException"


def test_body_error_reads_the_rest_json_code_member() -> None:
    assert body_error({"code": "ModelNotReadyException", "message": "..."}) == (
        "ModelNotReadyException"
    )
    assert body_error({"message": "no code here"}) is None
    assert body_error(["not", "an", "object"]) is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), (b"<html><body>502 Bad Gateway</body></html>", "text/html")],
)
def test_errortype_header_names_the_error_when_the_body_is_empty_or_html(
    body: bytes, content_type: str
) -> None:
    result = observe(
        detect("aws.bedrock", "POST", INVOKE),
        body,
        status=403,
        content_type=content_type,
        headers={"x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/coral/"},
    )

    assert result.error_type == "AccessDeniedException"


def test_cdn_html_error_without_the_header_has_no_code_and_says_why() -> None:
    result = observe(
        detect("aws.bedrock", "POST", INVOKE),
        b"<html><body>503 Service Unavailable</body></html>",
        status=503,
        content_type="text/html",
    )

    assert result.error_type is None  # the span falls back to the status code
    assert result.problem is not None and "not valid JSON" in result.problem


def test_throttled_invoke_through_the_proxy_sets_the_aws_error_type(start_proxy) -> None:
    body = fixture("aws_bedrock", "error_throttling.json")
    reply = Reply(body, status=429, headers=THROTTLED)
    with fake_upstream({("POST", INVOKE): reply}) as (url, _):
        proxy = start_proxy(upstream_overrides={BEDROCK_HOST: url})
        response = httpx.post(
            f"{proxy.url}{INVOKE}",
            content=b'{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []}',
            headers={"X-LLMObserve-Target-URL": f"https://{BEDROCK_HOST}{INVOKE}"},
        )

    assert (response.status_code, response.content) == (429, body)
    attributes = proxy.span().attributes
    assert attributes[ERROR_TYPE] == "ThrottlingException"
    assert attributes[LLMOBSERVE_COST_STATUS] == "upstream_error"


# Request headers reach the detectors in whichever form the caller holds them.


def test_detect_endpoint_reads_asgi_header_pairs() -> None:
    pairs = [
        (b"host", b"rekognition.us-east-1.amazonaws.com"),
        (b"x-amz-target", b"RekognitionService.DetectFaces"),
    ]

    endpoint = detect_endpoint("aws.rekognition", "POST", "/", headers=pairs)

    assert endpoint is not None and endpoint.wire_format == "aws_rekognition.DetectFaces"


def test_detect_endpoint_reads_header_objects_that_are_not_mappings() -> None:
    headers = Message()  # botocore's HTTPHeaders is one of these
    headers["X-Amz-Target"] = "Transcribe.StartTranscriptionJob"

    assert detect_endpoint("aws.transcribe", "POST", "/", headers=headers) is None  # type: ignore[arg-type]


def test_detect_endpoint_without_the_target_header_falls_back_to_the_body_guess() -> None:
    endpoint = detect_endpoint("aws.rekognition", "POST", "/", headers={"content-type": "x"})

    assert endpoint is not None and endpoint.wire_format == "aws_rekognition"


def test_start_job_through_the_proxy_is_forwarded_but_not_metered(start_proxy) -> None:
    body = b'{"JobId": "653de5a7ee03bef1"}'
    host = "rekognition.us-east-1.amazonaws.com"
    with fake_upstream({("POST", "/"): Reply(body)}) as (url, upstream):
        proxy = start_proxy(upstream_overrides={host: url})
        response = httpx.post(
            f"{proxy.url}/rekognition/",
            content=b'{"Video": {"S3Object": {"Bucket": "b", "Name": "v.mp4"}}}',
            headers={"X-Amz-Target": "RekognitionService.StartLabelDetection"},
        )

    assert response.content == body
    assert upstream.received[0].headers["x-amz-target"] == "RekognitionService.StartLabelDetection"
    assert GEN_AI_OPERATION_NAME not in proxy.span().attributes
