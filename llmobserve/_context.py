"""Customer id and section path, kept in OpenTelemetry baggage.

Baggage rather than a private context variable, for two reasons: the HTTP instrumentations
already send it to the proxy (W3C `baggage` header), and OpenTelemetry's threading
instrumentation carries it into threads and executors like the rest of the context.
"""

from __future__ import annotations

import logging

from opentelemetry import baggage, context
from opentelemetry.context import Context

from proxy.protocol import BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH

log = logging.getLogger("llmobserve")

MAX_VALUE_CHARS = 256


def set_customer_id(customer_id: str | None) -> None:
    """Attribute everything below the current context to `customer_id`.

    Applies to the rest of the current context: later sections, HTTP calls (sent to the proxy
    as W3C baggage), threads and asyncio tasks started from here. `None` clears it.

    >>> set_customer_id("customer-123")
    """
    try:
        if customer_id is None:
            context.attach(baggage.remove_baggage(BAGGAGE_CUSTOMER_ID))
            return
        value = str(customer_id)[:MAX_VALUE_CHARS]
        context.attach(baggage.set_baggage(BAGGAGE_CUSTOMER_ID, value))
    except Exception:  # telemetry never breaks the application
        log.exception("llmobserve: could not set the customer id")


def get_customer_id(ctx: Context | None = None) -> str | None:
    """The customer id in effect, or None."""
    value = baggage.get_baggage(BAGGAGE_CUSTOMER_ID, ctx)
    return value if isinstance(value, str) else None


def get_section_path(ctx: Context | None = None) -> str | None:
    """Labels of the enclosing sections joined by `/`, or None outside any section."""
    value = baggage.get_baggage(BAGGAGE_SECTION_PATH, ctx)
    return value if isinstance(value, str) else None
