"""The wire contract between the SDK, non-Python clients and the proxy.

Pure constants, no dependencies: the SDK imports this module without the proxy extra.
"""

from typing import Final

from semconv import LLMOBSERVE_CUSTOMER_ID, LLMOBSERVE_SECTION_PATH

HEADER_PREFIX: Final = "x-llmobserve-"
"""Every request header starting with this is ours: read by the proxy, never forwarded."""

TARGET_URL_HEADER: Final = "x-llmobserve-target-url"
"""The absolute provider URL a request routed by the SDK was meant for."""

PROXY_TOKEN_HEADER: Final = "x-llmobserve-proxy-token"  # noqa: S105 - a header name
"""The shared secret (`LLMOBSERVE_PROXY_TOKEN`) a proxy reachable beyond loopback requires."""

ROLLUP_HEADER: Final = "x-llmobserve-rollup"
"""Sent (`1`) by the SDK: return the call's cost with the response (see `proxy.call`)."""

COST_HEADER_NAME: Final = "x-llmobserve-cost"
"""Response header with the call's cost report, `{"status": ..., "usd": "..."}` (rollup)."""

STREAM_COST_PREFIX: Final = ": llmobserve-cost "
"""Streams carry the report in one SSE comment after the last event: SSE parsers ignore
comments, and the SDK removes it before the application sees the stream."""

CUSTOMER_ID_HEADER: Final = "x-llmobserve-customer-id"
"""For clients without an OpenTelemetry SDK (curl, Node, Go): the customer id."""

SECTION_HEADER: Final = "x-llmobserve-section"
"""For clients without an OpenTelemetry SDK: one section label."""

SECTION_PATH_HEADER: Final = "x-llmobserve-section-path"
"""For clients without an OpenTelemetry SDK: the section path (`agent:a/tool:b`)."""

BAGGAGE_CUSTOMER_ID: Final = LLMOBSERVE_CUSTOMER_ID
"""W3C baggage key carrying the customer id."""

BAGGAGE_SECTION_PATH: Final = LLMOBSERVE_SECTION_PATH
"""W3C baggage key carrying the section path."""

OUR_BAGGAGE_KEYS: Final = frozenset({BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH})
"""Baggage entries the proxy removes before a request reaches a third party."""

HEALTH_PATH: Final = "/health"
SERVICE_NAME: Final = "llmobserve-proxy"
DEFAULT_PORT: Final = 9000

STREAM_COST_EVENT_TYPE: Final = "llmobserve-cost"
"""AWS event streams (`application/vnd.amazon.eventstream`) carry the report as the payload of
one last `:message-type: event` message of this `:event-type`, which the SDK removes."""
