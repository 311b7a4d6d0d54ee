"""Provider ids, operation names and wire-format names of the LLM group.

Provider ids and operation names are the OpenTelemetry GenAI values where the conventions
define one, read from the official package rather than typed again (`semconv` lists only
`chat`, `openai` and `anthropic` so far). The rest are ours: lowercase, one word per provider.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiOperationNameValues as _Operation,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues as _Provider,
)

# Provider ids (`gen_ai.provider.name`).
OPENAI: Final = _Provider.OPENAI.value
AZURE_OPENAI: Final = _Provider.AZURE_AI_OPENAI.value
GEMINI: Final = _Provider.GCP_GEMINI.value
VERTEX_AI: Final = _Provider.GCP_VERTEX_AI.value
COHERE: Final = _Provider.COHERE.value
MISTRAL: Final = _Provider.MISTRAL_AI.value
GROQ: Final = _Provider.GROQ.value
DEEPSEEK: Final = _Provider.DEEPSEEK.value
XAI: Final = _Provider.X_AI.value
PERPLEXITY: Final = _Provider.PERPLEXITY.value
AI21: Final = "ai21"
HUGGINGFACE: Final = "huggingface"
TOGETHER: Final = "together"
FIREWORKS: Final = "fireworks"
OPENROUTER: Final = "openrouter"
CEREBRAS: Final = "cerebras"
REPLICATE: Final = "replicate"
VOYAGE: Final = "voyage"
OPENAI_COMPATIBLE: Final = "openai_compatible"
"""Self-hosted OpenAI-compatible servers (vLLM, Ollama, LM Studio) on declared hosts."""
SELF_HOSTED: Final = ("vllm", "ollama", "lmstudio")
"""Ids of the self-hosted servers the price data names (`pricing/data/vllm.yaml`, ...)."""

# Operation names (`gen_ai.operation.name`).
CHAT: Final = _Operation.CHAT.value
TEXT_COMPLETION: Final = _Operation.TEXT_COMPLETION.value
EMBEDDINGS: Final = _Operation.EMBEDDINGS.value
GENERATE_CONTENT: Final = _Operation.GENERATE_CONTENT.value
IMAGE_GENERATION: Final = "image_generation"
IMAGE_EDIT: Final = "image_edit"
TRANSCRIPTION: Final = "transcription"
TRANSLATION: Final = "translation"
SPEECH: Final = "speech"
RERANK: Final = "rerank"
PREDICTION: Final = "prediction"

# Wire formats (keys of `WIRE_FORMATS`).
OPENAI_COMPLETIONS: Final = "openai_completions"
OPENAI_RESPONSES: Final = "openai_responses"
OPENAI_EMBEDDINGS: Final = "openai_embeddings"
OPENAI_IMAGES: Final = "openai_images"
OPENAI_TRANSCRIPTION: Final = "openai_transcription"
OPENAI_SPEECH: Final = "openai_speech"
COMPATIBLE_CHAT: Final = "openai_compatible_chat"
GROQ_CHAT: Final = "groq_chat"
DEEPSEEK_CHAT: Final = "deepseek_chat"
XAI_CHAT: Final = "xai_chat"
OPENROUTER_CHAT: Final = "openrouter_chat"
PERPLEXITY_CHAT: Final = "perplexity_chat"
GEMINI_OPENAI_CHAT: Final = "gemini_openai_chat"
GEMINI_CONTENT: Final = "gemini_generate_content"
GEMINI_EMBED: Final = "gemini_embed_content"
VERTEX_ANTHROPIC: Final = "vertex_anthropic_messages"
COHERE_CHAT: Final = "cohere_chat"
COHERE_EMBED: Final = "cohere_embed"
COHERE_RERANK: Final = "cohere_rerank"
REPLICATE_PREDICTION: Final = "replicate_prediction"
VOYAGE_EMBEDDINGS: Final = "voyage_embeddings"

# Units and price dimensions (`pricing` vocabulary).
UNIT_CHARACTERS: Final = "characters"
UNIT_SECONDS: Final = "seconds"
UNIT_IMAGES: Final = "images"
UNIT_IMAGE_TOKENS: Final = "image_tokens"
UNIT_SEARCH_UNITS: Final = "search_units"
UNIT_WEB_SEARCH_REQUESTS: Final = "web_search_requests"
DIMENSION_SIZE: Final = "size"
DIMENSION_QUALITY: Final = "quality"
DIMENSION_SERVICE_TIER: Final = "service_tier"
DIMENSION_ENDPOINT: Final = "endpoint"
