"""LLM, embedding, image and audio APIs beyond OpenAI Chat Completions and Anthropic Messages.

Merged by the catalog (`PROVIDERS`), endpoint detection (`DETECTORS`) and the observer
(`WIRE_FORMATS`). Coverage, provider by provider: docs/providers.md.

`OPENAI_COMPATIBLE` is the provider id for hosts the catalog does not know but the user
allowed (`LLMOBSERVE_ALLOWED_HOSTS`): self-hosted vLLM, Ollama and LM Studio serve the
OpenAI paths its detector meters.
"""

from __future__ import annotations

from proxy.providers.anthropic import Messages
from proxy.providers.base import Endpoint, EndpointDetector, Provider
from proxy.providers.llm import _names as n
from proxy.providers.llm import audio, cohere, compatible, embeddings, images, replicate
from proxy.providers.llm._common import detector
from proxy.providers.llm.gemini import EmbedContent, GenerateContent
from proxy.providers.llm.google import VERTEX_HOSTS, detect_gemini, detect_vertex
from proxy.providers.llm.openai_api import detect_azure, detect_openai
from proxy.providers.llm.responses import Responses
from proxy.providers.openai import ChatCompletions
from proxy.providers.result import WireFormat

__all__ = ["DETECTORS", "OPENAI_COMPATIBLE", "PROVIDERS", "WIRE_FORMATS"]

OPENAI_COMPATIBLE = n.OPENAI_COMPATIBLE

PROVIDERS: tuple[Provider, ...] = (
    Provider(
        n.GEMINI,
        ("generativelanguage.googleapis.com",),
        "https://generativelanguage.googleapis.com",
        "gemini",
    ),
    Provider(n.VERTEX_AI, VERTEX_HOSTS, "https://aiplatform.googleapis.com", "vertex"),
    Provider(
        n.AZURE_OPENAI,
        (
            "*.openai.azure.com",
            "*.cognitiveservices.azure.com",
            "*.services.ai.azure.com",
            # Azure has no shared origin: calls name their resource's host (target header).
            # This placeholder only gives the `/azure` prefix a Microsoft-owned host.
            "openai.azure.com",
        ),
        "https://openai.azure.com",
        "azure",
    ),
    Provider(n.COHERE, ("api.cohere.com", "api.cohere.ai"), "https://api.cohere.com", "cohere"),
    Provider(
        n.MISTRAL, ("api.mistral.ai", "codestral.mistral.ai"), "https://api.mistral.ai", "mistral"
    ),
    Provider(n.GROQ, ("api.groq.com",), "https://api.groq.com", "groq"),
    Provider(n.AI21, ("api.ai21.com",), "https://api.ai21.com", "ai21"),
    Provider(
        n.HUGGINGFACE,
        ("router.huggingface.co", "api-inference.huggingface.co", "*.endpoints.huggingface.cloud"),
        "https://router.huggingface.co",
        "huggingface",
    ),
    Provider(
        n.TOGETHER,
        ("api.together.xyz", "api.together.ai", "api-inference.together.ai"),
        "https://api.together.xyz",
        "together",
    ),
    Provider(n.DEEPSEEK, ("api.deepseek.com",), "https://api.deepseek.com", "deepseek"),
    Provider(n.XAI, ("api.x.ai",), "https://api.x.ai", "xai"),
    Provider(n.PERPLEXITY, ("api.perplexity.ai",), "https://api.perplexity.ai", "perplexity"),
    Provider(n.OPENROUTER, ("openrouter.ai",), "https://openrouter.ai", "openrouter"),
    Provider(n.FIREWORKS, ("api.fireworks.ai",), "https://api.fireworks.ai", "fireworks"),
    Provider(n.CEREBRAS, ("api.cerebras.ai",), "https://api.cerebras.ai", "cerebras"),
    Provider(
        n.REPLICATE,
        ("api.replicate.com", "stream.replicate.com"),
        "https://api.replicate.com",
        "replicate",
    ),
    Provider(n.VOYAGE, ("api.voyageai.com",), "https://api.voyageai.com", "voyage"),
)

_COHERE = detector(
    {
        ("POST", "/v2/chat"): Endpoint(n.CHAT, n.COHERE_CHAT),
        ("POST", "/v2/embed"): Endpoint(n.EMBEDDINGS, n.COHERE_EMBED),
        ("POST", "/v2/rerank"): Endpoint(n.RERANK, n.COHERE_RERANK),
        # https://docs.cohere.com/docs/compatibility-api
        **compatible.family("/compatibility/v1", kinds=frozenset({"chat", "embeddings"})),
    }
)
_VOYAGE = detector(
    {
        ("POST", "/v1/embeddings"): Endpoint(n.EMBEDDINGS, n.VOYAGE_EMBEDDINGS),
        ("POST", "/v1/multimodalembeddings"): Endpoint(n.EMBEDDINGS, n.VOYAGE_EMBEDDINGS),
        ("POST", "/v1/contextualizedembeddings"): Endpoint(n.EMBEDDINGS, n.VOYAGE_EMBEDDINGS),
        ("POST", "/v1/rerank"): Endpoint(n.RERANK, n.VOYAGE_EMBEDDINGS),
    }
)

DETECTORS: dict[str, EndpointDetector] = {
    n.OPENAI: detect_openai,
    n.AZURE_OPENAI: detect_azure,
    n.GEMINI: detect_gemini,
    n.VERTEX_AI: detect_vertex,
    n.COHERE: _COHERE,
    n.MISTRAL: compatible.DETECT_MISTRAL,
    n.GROQ: compatible.DETECT_GROQ,
    n.AI21: compatible.DETECT_AI21,
    n.HUGGINGFACE: compatible.detect_huggingface,
    n.TOGETHER: compatible.DETECT_TOGETHER,
    n.DEEPSEEK: compatible.DETECT_DEEPSEEK,
    n.XAI: compatible.DETECT_XAI,
    n.PERPLEXITY: compatible.DETECT_PERPLEXITY,
    n.OPENROUTER: compatible.DETECT_OPENROUTER,
    n.FIREWORKS: compatible.DETECT_FIREWORKS,
    n.CEREBRAS: compatible.DETECT_CEREBRAS,
    n.REPLICATE: replicate.detect,
    n.VOYAGE: _VOYAGE,
    n.OPENAI_COMPATIBLE: compatible.DETECT_SELF_HOSTED,
    # The price data names self-hosted servers by product; a host mapped to one of these ids
    # is detected the same way.
    **dict.fromkeys(n.SELF_HOSTED, compatible.DETECT_SELF_HOSTED),
}

WIRE_FORMATS: dict[str, WireFormat] = {
    n.OPENAI_COMPLETIONS: ChatCompletions(),
    n.OPENAI_RESPONSES: Responses(),
    n.OPENAI_EMBEDDINGS: embeddings.Embeddings(),
    n.OPENAI_IMAGES: images.Images(),
    n.OPENAI_TRANSCRIPTION: audio.Transcriptions(),
    n.OPENAI_SPEECH: audio.Speech(),
    **compatible.WIRE_FORMATS,
    n.GEMINI_CONTENT: GenerateContent(),
    n.GEMINI_EMBED: EmbedContent(),
    n.VERTEX_ANTHROPIC: Messages(),
    n.COHERE_CHAT: cohere.Chat(),
    n.COHERE_EMBED: cohere.Embed(),
    n.COHERE_RERANK: cohere.Rerank(),
    n.REPLICATE_PREDICTION: replicate.Predictions(),
    n.VOYAGE_EMBEDDINGS: embeddings.VoyageEmbeddings(),
}
