"""One proxied call: its span, its metrics, and the cost the SDK reads back (rollup)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from pricing import Registry, TokenUsage
from proxy.costing import CallCost
from proxy.metrics import ProxyMetrics
from proxy.protocol import COST_HEADER_NAME, STREAM_COST_PREFIX
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.services.eventstream import cost_message
from proxy.providers.usage import DEFAULT_MAX_PARSE_BYTES, ResponseObserver
from proxy.telemetry import record_response
from semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    SERVER_ADDRESS,
    SERVER_PORT,
)

_DIMENSIONS = (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
)
_ATTRIBUTION = (LLMOBSERVE_CUSTOMER_ID, LLMOBSERVE_SECTION_PATH)

COST_HEADER = COST_HEADER_NAME.encode()
STREAM_COST_MARKER = STREAM_COST_PREFIX.encode()


class ProxiedCall:
    def __init__(
        self,
        span: Span,
        *,
        attributes: Mapping[str, AttributeValue],
        endpoint: Endpoint | None,
        facts: RequestFacts,
        provider: str,
        host: str,
        metrics: ProxyMetrics,
    ) -> None:
        self.span = span
        self.host = host
        self.endpoint = endpoint
        self.facts = facts
        self.provider = provider
        self.response_started = False
        self._metrics = metrics
        self._dimensions = {k: attributes[k] for k in _DIMENSIONS if k in attributes}
        self._attribution = {k: attributes[k] for k in _ATTRIBUTION if k in attributes}
        self._started = time.monotonic()
        self._first_chunk: float | None = None
        self._priced: CallCost | None = None
        self._response_model: str | None = None
        self._error: str | None = None
        self._usage: TokenUsage | None = None
        self._status: int | None = None
        self._observer: ResponseObserver | None = None

    def observe(
        self, status: int, headers: Any, *, max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES
    ) -> ResponseObserver | None:
        self._status = status
        if self.endpoint is None:
            self.span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
            return None
        self._observer = ResponseObserver(
            self.endpoint,
            status=status,
            content_type=headers.get("Content-Type", ""),
            content_encoding=headers.get("Content-Encoding", ""),
            drop_injected_usage=self.facts.usage_injected,
            max_parse_bytes=max_parse_bytes,
            request=self.facts,
            headers=headers,
        )
        return self._observer

    def chunk_arrived(self) -> None:
        if self._first_chunk is None:
            self._first_chunk = time.monotonic() - self._started

    def finish(self, status: int, registry: Registry, observer: ResponseObserver | None) -> bytes:
        """Record the response on the span; returns bytes still held back for the client."""
        self._observer = None  # finished: nothing left for `finish_partial`
        if observer is None:
            if status >= 400:
                self.fail(str(status), f"provider answered {status}")
            return b""
        tail, result = observer.finish()
        self._response_model = result.response_model
        self._priced = record_response(
            self.span,
            status=status,
            provider_id=self.provider,
            facts=self.facts,
            result=result,
            registry=registry,
        )
        self._usage = result.usage
        if status >= 400 or result.error_type:
            self._error = result.error_type or str(status)
        return tail

    def finish_partial(self, registry: Registry) -> None:
        """The response broke off (upstream reset or timeout, client gone): record the usage
        read so far, as a truncated stream's reader reports it."""
        observer = self._observer
        if observer is not None and self._status is not None:
            self.finish(self._status, registry, observer)

    def cost_header(self) -> tuple[bytes, bytes]:
        return COST_HEADER, self._rollup_value().encode()

    def cost_comment(self) -> bytes:
        return STREAM_COST_MARKER + self._rollup_value().encode() + b"\n\n"

    def cost_event(self) -> bytes:
        return cost_message(self._rollup_value().encode())

    def _rollup_value(self) -> str:
        priced = self._priced
        if priced is None:
            return json.dumps({"status": "not_metered"})
        total = priced.total
        document = {"status": priced.status, "usd": None if total is None else str(total)}
        return json.dumps(document, separators=(",", ":"))

    def fail(self, error_type: str, description: str) -> None:
        self._error = error_type
        self.span.set_attribute(ERROR_TYPE, error_type)
        self.span.set_status(Status(StatusCode.ERROR, description))

    def end(self) -> None:
        dimensions: dict[str, AttributeValue] = dict(self._dimensions)
        if self._response_model:
            dimensions[GEN_AI_RESPONSE_MODEL] = self._response_model
        if self._error:
            dimensions[ERROR_TYPE] = self._error
        priced = self._priced
        if self.endpoint is not None:
            self._metrics.record(
                dimensions,
                self._attribution,
                duration=time.monotonic() - self._started,
                first_chunk=self._first_chunk if self.facts.stream else None,
                usage=self._usage,
                cost=priced.total if priced is not None else None,
                cost_status=priced.status if priced is not None else None,
            )
        self.span.end()
