"""Attribute names llmobserve emits: official OpenTelemetry ones and our own.

Every attribute string used by the SDK and the proxy comes from here; the constants are
generated from `semconv/model/*.yaml` (see `semconv.generate`).
"""

from semconv.attributes import *  # noqa: F403
from semconv.attributes import __all__ as __all__
