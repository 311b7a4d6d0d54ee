"""AWS Rekognition: one image per image call, video seconds once per finished job."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import aws_media
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    span_units,
)

REKOGNITION = "aws.rekognition"
HOST = "rekognition.us-east-1.amazonaws.com"


def _target(operation: str) -> dict[str, str]:
    return {"X-Amz-Target": f"RekognitionService.{operation}"}


def test_detect_with_the_target_header_picks_the_operation() -> None:
    labels = detect_endpoint(REKOGNITION, "POST", "/", headers=_target("DetectLabels"))
    assert labels is not None and labels.wire_format == "aws_rekognition.DetectLabels"
    assert detect_endpoint(REKOGNITION, "POST", "/", headers=_target("CreateCollection")) is None
    assert (
        detect_endpoint(REKOGNITION, "POST", "/", headers=_target("GetLabelDetection")) is not None
    )


def test_every_detected_operation_has_a_wire_format() -> None:
    for operation in (*aws_media.IMAGE_OPERATIONS.values(), *aws_media.VIDEO_RESULTS):
        endpoint = detect_endpoint(REKOGNITION, "POST", "/", headers=_target(operation))
        assert endpoint is not None and endpoint.wire_format in aws_media.WIRE_FORMATS


@pytest.mark.parametrize(
    ("request_name", "response_name", "operation"),
    [
        ("detect_labels_request.json", "detect_labels.json", "DetectLabels"),
        ("compare_faces_request.json", "compare_faces.json", "CompareFaces"),
    ],
)
def test_image_call_without_target_is_inferred_from_the_bodies(
    request_name: str, response_name: str, operation: str
) -> None:
    result = observe(
        detect(REKOGNITION, "POST", "/"),
        fixture("aws_rekognition", response_name),
        request_body=fixture("aws_rekognition", request_name),
    )

    assert result.units == {"images": Decimal(1)}
    assert result.dimensions == {"endpoint": operation}
    assert result.response_model == "image"


def test_image_call_with_known_operation() -> None:
    endpoint = detect_endpoint(REKOGNITION, "POST", "/", headers=_target("DetectText"))
    assert endpoint is not None

    result = observe(
        endpoint, b'{"TextDetections": []}', request_body=b'{"Image": {"Bytes": "AA=="}}'
    )

    assert (result.units, result.dimensions) == ({"images": Decimal(1)}, {"endpoint": "DetectText"})


def test_video_result_is_metered_once_per_job_in_seconds() -> None:
    endpoint = detect_endpoint(REKOGNITION, "POST", "/", headers=_target("GetLabelDetection"))
    assert endpoint is not None
    aws_media.WIRE_FORMATS[endpoint.wire_format].ledger.clear()  # type: ignore[attr-defined]
    request = fixture("aws_rekognition", "get_label_detection_request.json")
    body = fixture("aws_rekognition", "get_label_detection.json")

    first = observe(endpoint, body, request_body=request)
    next_page = observe(endpoint, body, request_body=request)

    assert first.units == {"video_seconds": Decimal("95.5")}
    assert first.response_model == "video"
    assert next_page.units == {}
    assert next_page.problem is not None and "already metered" in next_page.problem


def test_video_result_in_progress_is_not_billed() -> None:
    result = observe(
        detect(REKOGNITION, "POST", "/"),
        b'{"JobStatus": "IN_PROGRESS"}',
        request_body=b'{"JobId": "job-1"}',
    )

    assert (result.units, result.problem) == ({}, "video job is IN_PROGRESS; not billed yet")


def test_management_calls_are_not_billed() -> None:
    result = observe(detect(REKOGNITION, "POST", "/"), b'{"CollectionIds": []}', request_body=b"{}")

    assert result.problem == "not an image or video analysis result; nothing billed"


def test_html_error_page_is_a_problem() -> None:
    result = observe(
        detect(REKOGNITION, "POST", "/"), b"<html>503</html>", content_type="text/html"
    )

    assert result.problem is not None and "not valid JSON" in result.problem


def test_detect_labels_through_the_proxy(start_proxy) -> None:
    body = fixture("aws_rekognition", "detect_labels.json")
    request = fixture("aws_rekognition", "detect_labels_request.json")
    with fake_upstream({("POST", "/"): Reply(body)}) as (url, upstream):
        proxy = start_proxy(upstream_overrides={HOST: url})
        response = httpx.post(
            f"{proxy.url}/rekognition/", content=request, headers=_target("DetectLabels")
        )

    assert response.content == body
    assert upstream.received[0].headers["x-amz-target"] == "RekognitionService.DetectLabels"
    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_PROVIDER_NAME], attributes[GEN_AI_OPERATION_NAME]) == (
        REKOGNITION,
        "image_analysis",
    )
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"images": 1.0})
