"""The proxy's span per call: attributes from the request, the response and the price."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from pricing import Cost, Registry
from proxy.costing import CallCost, price_call
from proxy.protocol import (
    BAGGAGE_CUSTOMER_ID,
    BAGGAGE_SECTION_PATH,
    CUSTOMER_ID_HEADER,
    SECTION_HEADER,
    SECTION_PATH_HEADER,
)
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.result import CallResult
from proxy.security import MAX_LABEL_CHARS, clean_label
from semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_CACHE_READ,
    LLMOBSERVE_COST_CACHE_WRITE,
    LLMOBSERVE_COST_INPUT,
    LLMOBSERVE_COST_MODEL,
    LLMOBSERVE_COST_OTHER,
    LLMOBSERVE_COST_OUTPUT,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_SOURCE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_PROXY_STREAM_USAGE_INJECTED,
    LLMOBSERVE_SECTION_PATH,
    LLMOBSERVE_USAGE,
    SERVER_ADDRESS,
    SERVER_PORT,
    LlmobserveCostStatusValues,
)

log = logging.getLogger(__name__)

MAX_ATTRIBUTION_CHARS = MAX_LABEL_CHARS
_ATTRIBUTION_SOURCES = (
    (LLMOBSERVE_CUSTOMER_ID, BAGGAGE_CUSTOMER_ID, (CUSTOMER_ID_HEADER,)),
    (LLMOBSERVE_SECTION_PATH, BAGGAGE_SECTION_PATH, (SECTION_PATH_HEADER, SECTION_HEADER)),
)


def attribution(context: Context, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Customer id and section path - untrusted input, so capped and cleaned.

    From W3C baggage (the SDK), else from the `X-LLMObserve-Customer-ID`,
    `X-LLMObserve-Section-Path` / `X-LLMObserve-Section` headers that clients without an
    OpenTelemetry SDK can send. Baggage wins when both are present.
    """
    headers = headers or {}
    found: dict[str, str] = {}
    entries = baggage.get_all(context)
    for attribute, key, header_names in _ATTRIBUTION_SOURCES:
        value = entries.get(key)
        if not (isinstance(value, str) and value):
            value = next((headers[h] for h in header_names if headers.get(h)), None)
        if value:
            found[attribute] = clean_label(value)
    return found


def call_attributes(
    method: str,
    *,
    host: str,
    port: int,
    provider_id: str | None,
    endpoint: Endpoint | None,
    facts: RequestFacts,
    attribution: Mapping[str, str],
) -> dict[str, AttributeValue]:
    """The attributes a call's span starts with (the proxy's and direct mode's alike)."""
    attributes: dict[str, AttributeValue] = {
        SERVER_ADDRESS: host,
        SERVER_PORT: port,
        HTTP_REQUEST_METHOD: method,
        **attribution,
    }
    if provider_id is not None:
        attributes[GEN_AI_PROVIDER_NAME] = provider_id
    if endpoint is None:
        attributes[LLMOBSERVE_COST_STATUS] = LlmobserveCostStatusValues.NOT_METERED
        return attributes
    attributes[GEN_AI_OPERATION_NAME] = endpoint.operation
    if facts.model:
        attributes[GEN_AI_REQUEST_MODEL] = facts.model
    if facts.stream:
        attributes[GEN_AI_REQUEST_STREAM] = True
    if facts.usage_injected:
        attributes[LLMOBSERVE_PROXY_STREAM_USAGE_INJECTED] = True
    return attributes


def span_name(method: str, host: str, endpoint: Endpoint | None, facts: RequestFacts) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}`, or `{method} {host}` when not metered."""
    if endpoint is None:
        return f"{method} {host}"
    return f"{endpoint.operation} {facts.model}" if facts.model else endpoint.operation


def record_response(
    span: Span,
    *,
    status: int,
    provider_id: str,
    facts: RequestFacts,
    result: CallResult,
    registry: Registry,
) -> CallCost:
    """Set the response, usage and cost attributes; returns how the call was priced."""
    # One `set_attributes` call: the SDK's span locks and validates on each call.
    attributes: dict[str, AttributeValue] = {HTTP_RESPONSE_STATUS_CODE: status}
    if result.response_model:
        attributes[GEN_AI_RESPONSE_MODEL] = result.response_model
    if result.response_id:
        attributes[GEN_AI_RESPONSE_ID] = result.response_id
    error = None
    if status >= 400 or result.error_type:
        error = result.error_type or str(status)
        attributes[ERROR_TYPE] = error
    usage = result.usage
    if usage is not None:
        attributes[GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
        attributes[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
        if usage.reasoning_tokens:
            attributes[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
    for unit, quantity in {**facts.units, **result.units}.items():
        attributes[f"{LLMOBSERVE_USAGE}.{unit}"] = float(quantity)
    priced = price_call(provider_id, status, facts, result, registry)
    attributes[LLMOBSERVE_COST_STATUS] = priced.status
    if priced.reason:
        attributes[LLMOBSERVE_COST_REASON] = priced.reason
    if priced.cost is not None:
        attributes.update(_cost_attributes(priced.cost))
    span.set_attributes(attributes)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, f"provider answered {status}: {error}"))
    return priced


def _cost_attributes(cost: Cost) -> Mapping[str, str | float]:
    return {
        GEN_AI_USAGE_COST: float(cost.total),
        LLMOBSERVE_COST_SOURCE: cost.source,
        LLMOBSERVE_COST_MODEL: cost.model,
        LLMOBSERVE_COST_INPUT: float(cost.input),
        LLMOBSERVE_COST_OUTPUT: float(cost.output),
        LLMOBSERVE_COST_CACHE_READ: float(cost.cache_read),
        LLMOBSERVE_COST_CACHE_WRITE: float(cost.cache_write),
        LLMOBSERVE_COST_OTHER: float(cost.other),
    }
