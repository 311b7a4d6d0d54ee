"""The proxy's span per call: attributes from the request, the response and the price."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from llmobserve.exporting import build_resource, build_span_exporters
from pricing import Cost, Registry
from proxy.protocol import BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH, SERVICE_NAME
from proxy.providers.result import CallResult
from semconv import (
    ERROR_TYPE,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_CACHE_READ,
    LLMOBSERVE_COST_CACHE_WRITE,
    LLMOBSERVE_COST_INPUT,
    LLMOBSERVE_COST_MODEL,
    LLMOBSERVE_COST_OUTPUT,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_SOURCE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    LlmobserveCostStatusValues,
)

log = logging.getLogger(__name__)

MAX_ATTRIBUTION_CHARS = 256
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 controls


def tracer_provider_from_env() -> TracerProvider:
    """A provider exporting as the `OTEL_*` variables say (default OTLP http to :4318)."""
    provider = TracerProvider(resource=build_resource(None, SERVICE_NAME))
    for exporter in build_span_exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def attribution(context: Context) -> dict[str, str]:
    """Customer id and section path from incoming baggage - untrusted, so capped and cleaned."""
    found: dict[str, str] = {}
    for key, attribute in (
        (BAGGAGE_CUSTOMER_ID, LLMOBSERVE_CUSTOMER_ID),
        (BAGGAGE_SECTION_PATH, LLMOBSERVE_SECTION_PATH),
    ):
        value = baggage.get_baggage(key, context)
        if isinstance(value, str) and value:
            found[attribute] = _UNPRINTABLE.sub("", value)[:MAX_ATTRIBUTION_CHARS]
    return found


def record_response(
    span: Span,
    *,
    status: int,
    provider_id: str,
    request_model: str | None,
    result: CallResult,
    registry: Registry,
) -> Decimal | None:
    """Set the response, usage and cost attributes; returns the cost when priced."""
    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
    if result.response_model:
        span.set_attribute(GEN_AI_RESPONSE_MODEL, result.response_model)
    if result.response_id:
        span.set_attribute(GEN_AI_RESPONSE_ID, result.response_id)
    if status >= 400 or result.error_type:
        error = result.error_type or str(status)
        span.set_attribute(ERROR_TYPE, error)
        span.set_status(Status(StatusCode.ERROR, f"provider answered {status}: {error}"))
    usage = result.usage
    if usage is None:
        if status >= 400:
            span.set_attribute(LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues.UPSTREAM_ERROR)
        else:
            span.set_attribute(LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues.USAGE_UNAVAILABLE)
            span.set_attribute(LLMOBSERVE_COST_REASON, result.problem or "no usage reported")
        return None
    span.set_attributes(
        {
            GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
            GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_tokens,
            GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: usage.cache_write_tokens,
        }
    )
    if usage.reasoning_tokens:
        span.set_attribute(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens)
    if result.problem:
        span.set_attribute(LLMOBSERVE_COST_REASON, result.problem)
    model = result.response_model or request_model
    if not model:
        span.set_attribute(LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues.UNKNOWN_MODEL)
        span.set_attribute(
            LLMOBSERVE_COST_REASON, "neither the request nor the response names a model"
        )
        return None
    try:
        cost = registry.cost(provider_id, model, usage)
    except ValueError as exc:  # counts that contradict each other: recorded, not priced
        span.set_attribute(LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues.USAGE_UNAVAILABLE)
        span.set_attribute(LLMOBSERVE_COST_REASON, f"usage cannot be priced: {exc}")
        return None
    if cost is None:
        span.set_attribute(LLMOBSERVE_COST_STATUS, LlmobserveCostStatusValues.UNKNOWN_MODEL)
        span.set_attribute(LLMOBSERVE_COST_REASON, f"no price for {provider_id} model {model!r}")
        return None
    span.set_attributes(_cost_attributes(cost))
    return cost.total


def _cost_attributes(cost: Cost) -> Mapping[str, str | float]:
    return {
        GEN_AI_USAGE_COST: float(cost.total),
        LLMOBSERVE_COST_STATUS: LlmobserveCostStatusValues.PRICED,
        LLMOBSERVE_COST_SOURCE: cost.source,
        LLMOBSERVE_COST_MODEL: cost.model,
        LLMOBSERVE_COST_INPUT: float(cost.input),
        LLMOBSERVE_COST_OUTPUT: float(cost.output),
        LLMOBSERVE_COST_CACHE_READ: float(cost.cache_read),
        LLMOBSERVE_COST_CACHE_WRITE: float(cost.cache_write),
    }
