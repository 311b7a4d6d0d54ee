"""Replicate: asynchronous predictions metered once, on the response that shows them finished."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.llm import replicate
from proxy.providers.llm.replicate import PredictionLedger, read_prediction
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
)

REPLICATE = "replicate"
GET = endpoint_for(REPLICATE, "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", "GET")
SUCCEEDED = json.loads(fixture("replicate/prediction_succeeded.json"))


@pytest.fixture(autouse=True)
def _fresh_ledger() -> None:
    replicate.LEDGER.forget()


@pytest.mark.parametrize(
    ("method", "path", "model"),
    [
        ("POST", "/v1/predictions", None),
        (
            "POST",
            "/v1/models/meta/meta-llama-3-8b-instruct/predictions",
            "meta/meta-llama-3-8b-instruct",
        ),
        ("POST", "/v1/deployments/acme/my-sdxl/predictions", "acme/my-sdxl"),
        ("GET", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", None),
        ("POST", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel", None),
    ],
)
def test_detect_endpoint_finds_prediction_calls(method: str, path: str, model: str | None) -> None:
    endpoint = detect_endpoint(REPLICATE, method, path)

    assert endpoint is not None
    assert (endpoint.operation, endpoint.model) == ("prediction", model)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/predictions"),
        ("POST", "/v1/predictions/abc"),
        ("GET", "/v1/predictions/abc/cancel"),
        ("GET", "/v1/models/meta/llama"),
    ],
)
def test_detect_endpoint_leaves_listing_and_other_calls_unmetered(method: str, path: str) -> None:
    assert detect_endpoint(REPLICATE, method, path) is None


def test_create_request_reads_model_from_version_and_never_streams() -> None:
    endpoint = endpoint_for(REPLICATE, "/v1/predictions")
    body = b'{"version": "stability-ai/sdxl:39ed52f2a78e", "input": {}, "stream": true}'

    request = facts_for(endpoint, body)

    assert request.model == "stability-ai/sdxl"
    assert not request.stream  # `stream` asks for a stream URL; this answer is JSON


@pytest.mark.parametrize("name", ["prediction_starting.json", "prediction_processing.json"])
def test_unfinished_prediction_is_not_metered_and_says_why(name: str) -> None:
    result = observe(GET, fixture(f"replicate/{name}"))

    assert not result.metered
    assert result.problem is not None
    assert "metered on the response that shows it finished" in result.problem


def test_succeeded_prediction_is_metered_in_seconds_and_tokens() -> None:
    result = observe(GET, fixture("replicate/prediction_succeeded.json"))

    assert result.units == {"seconds": Decimal("1.361082")}
    assert result.usage == TokenUsage(input_tokens=17, output_tokens=23)
    assert result.response_model == "meta/meta-llama-3-8b-instruct"
    assert result.response_id == "gm3qorzdhgbfurvjtvhg6dckhu"
    assert result.finish_reasons == ("succeeded",)
    assert result.problem is None


def test_polls_of_a_finished_prediction_are_metered_once() -> None:
    body = fixture("replicate/prediction_succeeded.json")

    first = observe(GET, body)
    second = observe(GET, body)
    third = observe(GET, body)

    assert first.metered
    assert not second.metered and not third.metered
    assert (
        second.problem == "prediction gm3qorzdhgbfurvjtvhg6dckhu was metered on an earlier response"
    )


def test_canceled_prediction_is_billed_for_the_time_it_ran() -> None:
    result = observe(GET, fixture("replicate/prediction_canceled.json"))

    assert result.units == {"seconds": Decimal("4.2501")}
    assert result.usage is None
    assert result.response_model == "stability-ai/sdxl"


def test_failed_prediction_is_metered_and_marked_as_an_error() -> None:
    result = read_prediction(dict(SUCCEEDED, status="failed", id="f1"), PredictionLedger())

    assert result.error_type == "prediction_failed"
    assert result.units == {"seconds": Decimal("1.361082")}


def test_aborted_prediction_is_not_billed() -> None:
    result = read_prediction(dict(SUCCEEDED, status="aborted", id="a1"), PredictionLedger())

    assert not result.metered
    assert result.problem == "aborted predictions are not billed"


def test_ledger_forgets_the_oldest_ids_past_its_capacity() -> None:
    ledger = PredictionLedger(capacity=2)

    assert [ledger.first_time(i) for i in ("a", "b", "c", "a")] == [True, True, True, True]
    assert not ledger.first_time("c")


@pytest.mark.parametrize("body", [b"", HTML_ERROR_PAGE, b'{"id": "\xff"}', b"[]"])
def test_bad_bodies_give_a_problem(body: bytes) -> None:
    result = observe(GET, body)

    assert not result.metered
    assert result.problem


def test_error_body_reads_problem_title() -> None:
    body = (
        b'{"title": "Unauthenticated", "detail": "You did not pass a valid token", "status": 401}'
    )

    assert observe(GET, body, status=401).error_type == "unauthenticated"
