"""boto3 Rekognition (an AWS JSON-protocol API): the operation comes from `X-Amz-Target`.

Every Rekognition call is `POST /`; the operation is only in the signed `X-Amz-Target`
header. Through the proxy and in direct mode, a boto3 `detect_labels` call is metered as one
image of `DetectLabels`, and its signature still verifies upstream.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("boto3")

import llmobserve
from semconv import GEN_AI_PROVIDER_NAME, LLMOBSERVE_COST_STATUS

from .conftest import (
    FakeUpstream,
    Received,
    Reply,
    in_section,
    json_reply,
)
from .sigv4 import REGION, SigV4Endpoint
from .test_botocore import (  # noqa: F401 - fixtures used by name
    assert_signed_and_untouched,
    aws_client,
    aws_credentials,
    call_spans,
    close_clients,
)

REKOGNITION = f"rekognition.{REGION}.amazonaws.com"
LABELS = b'{"Labels":[{"Name":"Cat","Confidence":99.1}],"LabelModelVersion":"3.0"}'
IMAGE = {"Bytes": b"\x89PNG-not-really"}
ONE_IMAGE = Decimal("0.001")  # pricing/data/aws.rekognition.yaml, first tier


def rekognition_reply(request: Received) -> Reply:
    if request.raw_path == b"/" and request.header("x-amz-target") == (
        "RekognitionService.DetectLabels"
    ):
        return json_reply(LABELS, **{"content-type": "application/x-amz-json-1.1"})
    if request.header("x-amz-target") == "RekognitionService.ListCollections":
        return json_reply(b'{"CollectionIds":[],"FaceModelVersions":[]}')
    return 400, {"content-type": "application/json"}, b'{"__type":"UnknownOperationException"}'


def units(attributes: Any) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k.startswith("llmobserve.usage.")}


def test_detect_labels_through_the_proxy_is_one_priced_image(route, spans):
    endpoint = SigV4Endpoint(rekognition_reply)
    routed = route([REKOGNITION], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    client = aws_client("rekognition")

    traced = in_section(lambda: client.detect_labels(Image=IMAGE, MaxLabels=5))

    assert traced.value["Labels"][0]["Name"] == "Cat"
    sent = assert_signed_and_untouched(routed, endpoint, REKOGNITION)
    assert sent.header("x-amz-target") == "RekognitionService.DetectLabels"
    (span,) = [
        s for s in routed.proxy_spans() if (s.attributes or {}).get("server.address") == REKOGNITION
    ]
    attributes = span.attributes or {}
    assert attributes[GEN_AI_PROVIDER_NAME] == "aws.rekognition"
    assert units(attributes) == {"llmobserve.usage.images": 1.0}
    assert attributes[LLMOBSERVE_COST_STATUS] == "priced"
    assert traced.cost == ONE_IMAGE  # the section rollup, read back from the proxy


def test_detect_labels_in_direct_mode_is_one_priced_image(monkeypatch, spans):
    endpoint = SigV4Endpoint(rekognition_reply)
    with FakeUpstream(endpoint) as upstream:
        monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", f"{REKOGNITION}={upstream.url}")
        llmobserve.observe()
        client = aws_client("rekognition")
        traced = in_section(lambda: client.detect_labels(Image=IMAGE, MaxLabels=5))

    assert traced.value["Labels"][0]["Name"] == "Cat"
    assert endpoint.verdicts[-1].valid
    (span,) = call_spans(spans)
    attributes = span.attributes or {}
    assert attributes[GEN_AI_PROVIDER_NAME] == "aws.rekognition"
    assert units(attributes) == {"llmobserve.usage.images": 1.0}
    assert Decimal(repr(attributes["gen_ai.usage.cost"])) == ONE_IMAGE == traced.cost


def test_collection_calls_in_direct_mode_are_not_metered(monkeypatch, spans):
    # Told apart by X-Amz-Target alone: its body looks like any other JSON answer.
    endpoint = SigV4Endpoint(rekognition_reply)
    with FakeUpstream(endpoint) as upstream:
        monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", f"{REKOGNITION}={upstream.url}")
        llmobserve.observe()
        client = aws_client("rekognition")
        traced = in_section(client.list_collections)

    assert traced.value["CollectionIds"] == []
    assert call_spans(spans) == []
    assert traced.cost == 0
