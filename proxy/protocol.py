"""The wire contract between the SDK, non-Python clients and the proxy.

Pure constants, no dependencies: the SDK imports this module without the proxy extra.
"""

from typing import Final

from semconv import LLMOBSERVE_CUSTOMER_ID, LLMOBSERVE_SECTION_PATH

HEADER_PREFIX: Final = "x-llmobserve-"
"""Every request header starting with this is ours: read by the proxy, never forwarded."""

TARGET_URL_HEADER: Final = "x-llmobserve-target-url"
"""The absolute provider URL a request routed by the SDK was meant for."""

BAGGAGE_CUSTOMER_ID: Final = LLMOBSERVE_CUSTOMER_ID
"""W3C baggage key carrying the customer id."""

BAGGAGE_SECTION_PATH: Final = LLMOBSERVE_SECTION_PATH
"""W3C baggage key carrying the section path."""

OUR_BAGGAGE_KEYS: Final = frozenset({BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH})
"""Baggage entries the proxy removes before a request reaches a third party."""

HEALTH_PATH: Final = "/health"
SERVICE_NAME: Final = "llmobserve-proxy"
DEFAULT_PORT: Final = 9000
