"""LLM, embedding, image and audio APIs beyond OpenAI Chat Completions and Anthropic Messages."""

from __future__ import annotations

from proxy.providers.base import EndpointDetector, Provider
from proxy.providers.result import WireFormat

PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "gcp.gemini",
        ("generativelanguage.googleapis.com",),
        "https://generativelanguage.googleapis.com",
        "gemini",
    ),
    Provider("cohere", ("api.cohere.com", "api.cohere.ai"), "https://api.cohere.com", "cohere"),
    Provider(
        "mistral_ai",
        ("api.mistral.ai", "codestral.mistral.ai"),
        "https://api.mistral.ai",
        "mistral",
    ),
    Provider("groq", ("api.groq.com",), "https://api.groq.com", "groq"),
    Provider(
        "together", ("api.together.xyz", "api.together.ai"), "https://api.together.xyz", "together"
    ),
    Provider("deepseek", ("api.deepseek.com",), "https://api.deepseek.com", "deepseek"),
    Provider("x_ai", ("api.x.ai",), "https://api.x.ai", "xai"),
    Provider("perplexity", ("api.perplexity.ai",), "https://api.perplexity.ai", "perplexity"),
    Provider("openrouter", ("openrouter.ai",), "https://openrouter.ai", "openrouter"),
    Provider("fireworks", ("api.fireworks.ai",), "https://api.fireworks.ai", "fireworks"),
    Provider("cerebras", ("api.cerebras.ai",), "https://api.cerebras.ai", "cerebras"),
    Provider("voyage", ("api.voyageai.com",), "https://api.voyageai.com", "voyage"),
)

DETECTORS: dict[str, EndpointDetector] = {}

WIRE_FORMATS: dict[str, WireFormat] = {}
