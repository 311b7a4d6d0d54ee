"""Metrics and the cost read-back (section rollup), through a real proxy server."""

from __future__ import annotations

import json

import httpx
import openai

from semconv import (
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    GEN_AI_CLIENT_TOKEN_USAGE,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_TOKEN_TYPE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    METRIC_LLMOBSERVE_CALLS_UNPRICED,
    METRIC_LLMOBSERVE_COST,
)

KEY = "sk-test-metrics"
HELLO = [{"role": "user", "content": "Hello"}]


def points(proxy, name):
    proxy.spans(1)  # the call has ended
    data = proxy.metrics.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def client(proxy, **headers):
    return openai.OpenAI(
        api_key=KEY, base_url=f"{proxy.url}/openai/v1", max_retries=0, default_headers=headers
    )


def test_token_usage_histogram_has_input_and_output_points(proxy):
    client(proxy).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    by_type = {p.attributes[GEN_AI_TOKEN_TYPE]: p for p in points(proxy, GEN_AI_CLIENT_TOKEN_USAGE)}
    assert (by_type["input"].sum, by_type["output"].sum) == (12, 7)
    assert by_type["input"].explicit_bounds[:3] == (1.0, 4.0, 16.0)
    attrs = by_type["input"].attributes
    assert attrs[GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    (duration,) = points(proxy, GEN_AI_CLIENT_OPERATION_DURATION)
    assert duration.count == 1
    assert duration.explicit_bounds[:2] == (0.01, 0.02)


def test_cost_counter_sums_priced_calls_without_customer_dimension_by_default(proxy):
    headers = {"X-LLMObserve-Customer-ID": "c-1"}
    client(proxy, **headers).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    (point,) = points(proxy, METRIC_LLMOBSERVE_COST)
    assert point.value == 0.000006
    assert LLMOBSERVE_CUSTOMER_ID not in point.attributes


def test_customer_dimension_needs_the_explicit_switch(start_proxy):
    proxy = start_proxy(metrics_attribution=True)
    client(proxy, **{"X-LLMObserve-Customer-ID": "c-1"}).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO
    )
    (point,) = points(proxy, METRIC_LLMOBSERVE_COST)
    assert point.attributes[LLMOBSERVE_CUSTOMER_ID] == "c-1"


def test_unpriced_calls_are_counted_by_status(proxy):
    client(proxy).chat.completions.create(model="gpt-imaginary-9", messages=HELLO)
    (point,) = points(proxy, METRIC_LLMOBSERVE_CALLS_UNPRICED)
    assert point.value == 1
    assert point.attributes[LLMOBSERVE_COST_STATUS] == "unknown_model"
    assert points(proxy, METRIC_LLMOBSERVE_COST) == []


def test_streams_record_time_to_first_chunk(proxy):
    for _ in client(proxy).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True
    ):
        pass
    (point,) = points(proxy, GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
    assert point.count == 1


def test_rollup_request_gets_the_cost_in_a_header(proxy):
    response = httpx.post(
        f"{proxy.url}/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}", "x-llmobserve-rollup": "1"},
        json={"model": "gpt-4o-mini", "messages": HELLO},
    )
    assert json.loads(response.headers["x-llmobserve-cost"]) == {
        "status": "priced",
        "usd": "0.000006",
    }
    assert response.json()["usage"]["prompt_tokens"] == 12


def test_rollup_stream_gets_the_cost_in_a_final_comment(proxy):
    response = httpx.post(
        f"{proxy.url}/anthropic/v1/messages",
        headers={"x-api-key": KEY, "x-llmobserve-rollup": "1"},
        json={
            "model": "claude-3-haiku-20240307",
            "max_tokens": 5,
            "messages": HELLO,
            "stream": True,
        },
    )
    last = response.content.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert last == b': llmobserve-cost {"status":"priced","usd":"0.00001175"}'


def test_clients_that_do_not_ask_get_no_cost_header(proxy):
    response = httpx.post(
        f"{proxy.url}/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "gpt-4o-mini", "messages": HELLO},
    )
    assert "x-llmobserve-cost" not in response.headers
