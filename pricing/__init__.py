"""Exact, dated prices for LLM and other paid APIs, and the cost of a call, in ``Decimal``.

>>> from pricing import TokenUsage, Usage, price
>>> quote = price("openai", "gpt-4o-mini", Usage(tokens=TokenUsage(2000, 300, 1500)))
>>> quote.status, quote.cost.total
('priced', Decimal('0.0003675'))

``price()`` tries the user's override file, a cost the provider reported,
our registry (``pricing/data/<provider>.yaml``, format in ``pricing._schema``)
and the pinned genai-prices data, in that order (``pricing._quote``); the
arithmetic is in ``pricing._calculator``. See ``docs/pricing.md``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pricing._describe import Description, describe
from pricing._errors import PricingError
from pricing._loader import OVERRIDE_VARIABLE
from pricing._model import Cost, ModelPrice, TokenUsage
from pricing._quote import PriceSource, Quote, price
from pricing._registry import Registry
from pricing._usage import Usage

__all__ = [
    "Cost",
    "Description",
    "ModelPrice",
    "PriceSource",
    "PricingError",
    "Quote",
    "Registry",
    "TokenUsage",
    "Usage",
    "default_registry",
    "describe",
    "price",
]


@functools.cache
def default_registry() -> Registry:
    """The bundled prices plus ``$LLMOBSERVE_PRICING_FILE``, loaded and validated once.

    Raises ``PricingError`` naming file, line and field when either is
    malformed, so a bad override stops start-up instead of mispricing calls.
    """
    override = os.environ.get(OVERRIDE_VARIABLE, "").strip()
    return Registry.load(override=Path(override) if override else None)
