"""Stability AI: one image per successful v2beta call, `artifacts` for v1; model by endpoint."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_REQUEST_MODEL
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

STABILITY = "stability"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(5000)
BOUNDARY = "----llmobserve"


def multipart(**fields: str) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v2beta/stable-image/generate/ultra", "stable-image-ultra"),
        ("/v2beta/stable-image/generate/core", "stable-image-core"),
        ("/v2beta/stable-image/generate/sd3", "sd3.5-large"),
        ("/v2beta/stable-image/upscale/fast", "stable-image-upscale-fast"),
        ("/v2beta/stable-image/edit/inpaint", "stable-image-edit-inpaint"),
        (
            "/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image",
            "stable-diffusion-xl-1024-v1-0",
        ),
    ],
)
def test_detect_names_the_model_by_endpoint(path: str, model: str) -> None:
    endpoint = detect(STABILITY, "POST", path)

    assert (endpoint.operation, endpoint.model) == ("image_generation", model)


def test_detect_ignores_balance_and_results() -> None:
    assert detect_endpoint(STABILITY, "GET", "/v1/user/balance") is None
    assert detect_endpoint(STABILITY, "GET", "/v2beta/results/abc") is None


def test_sd3_model_comes_from_the_multipart_field() -> None:
    endpoint = detect(STABILITY, "POST", "/v2beta/stable-image/generate/sd3")

    found = facts(endpoint, multipart(prompt="a lighthouse", model="sd3.5-large-turbo"))

    assert found.model == "sd3.5-large-turbo"
    assert found.dimensions == {"endpoint": "sd3.5-large"}


def test_image_body_counts_one_image() -> None:
    endpoint = detect(STABILITY, "POST", "/v2beta/stable-image/generate/ultra")

    result = observe(
        endpoint,
        PNG,
        request_body=multipart(prompt="x"),
        content_type="image/png",
        headers={"finish-reason": "SUCCESS"},
    )

    assert result.units == {"images": Decimal(1)}
    assert result.dimensions == {"endpoint": "stable-image-ultra"}


def test_json_image_counts_one_image() -> None:
    endpoint = detect(STABILITY, "POST", "/v2beta/stable-image/generate/core")

    result = observe(
        endpoint, fixture("stability", "generate_json.json"), request_body=multipart(prompt="x")
    )

    assert result.units == {"images": Decimal(1)}


def test_v1_counts_artifacts() -> None:
    endpoint = detect(
        STABILITY, "POST", "/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image"
    )

    result = observe(
        endpoint,
        fixture("stability", "v1_text_to_image.json"),
        request_body=b'{"text_prompts": []}',
    )

    assert result.units == {"images": Decimal(2)}


def test_json_without_an_image_says_why() -> None:
    result = observe(
        detect(STABILITY, "POST", "/v2beta/stable-image/generate/core"),
        b'{"finish_reason": "ERROR"}',
    )

    assert result.problem == "response has neither an image nor artifacts"


def test_generate_through_the_proxy(start_proxy) -> None:
    path = "/v2beta/stable-image/generate/ultra"
    with fake_upstream(
        {
            ("POST", path): Reply(
                PNG, headers={"content-type": "image/png", "finish-reason": "SUCCESS"}
            )
        }
    ) as (url, upstream):
        proxy = start_proxy(upstream_overrides={"api.stability.ai": url})
        body = multipart(prompt="a lighthouse at dusk", output_format="png")
        response = httpx.post(
            f"{proxy.url}/stability{path}",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )

    assert response.content == PNG
    assert upstream.received[0].body == body
    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_OPERATION_NAME], attributes[GEN_AI_REQUEST_MODEL]) == (
        "image_generation",
        "stable-image-ultra",
    )
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"images": 1.0})
