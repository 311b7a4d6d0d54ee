"""Exact, dated LLM prices and the cost of a request, in ``Decimal``.

>>> from pricing import TokenUsage, default_registry
>>> usage = TokenUsage(input_tokens=2000, output_tokens=300, cache_read_tokens=1500)
>>> default_registry().cost("openai", "gpt-4o-mini", usage).total
Decimal('0.0003675')

Prices live in ``pricing/data/<provider>.yaml`` (format in ``pricing._schema``),
one file per OpenTelemetry ``gen_ai.provider.name``; the arithmetic and its
fallbacks are in ``pricing._calculator``.
"""

from __future__ import annotations

import functools

from pricing._errors import PricingError
from pricing._model import Cost, ModelPrice, TokenUsage
from pricing._registry import Registry

__all__ = [
    "Cost",
    "ModelPrice",
    "PricingError",
    "Registry",
    "TokenUsage",
    "default_registry",
]


@functools.cache
def default_registry() -> Registry:
    """The bundled prices, loaded and validated once per process."""
    return Registry.load()
