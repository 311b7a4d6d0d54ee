"""Embedding APIs billed on input tokens alone: OpenAI-shaped (`usage.prompt_tokens`, also
Azure, Mistral, Together, Fireworks, OpenRouter, self-hosted) and Voyage AI.

OpenAI: https://platform.openai.com/docs/api-reference/embeddings/object - `usage` has
`prompt_tokens` and `total_tokens` (equal: embeddings have no output).
Voyage: https://docs.voyageai.com/reference/embeddings-api - `usage.total_tokens`; multimodal
embeddings also report `text_tokens` and `image_pixels`
(https://docs.voyageai.com/reference/multimodal-embeddings-api); rerank reports
`usage.total_tokens` (https://docs.voyageai.com/reference/reranker-api).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.llm._common import openai_error
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count
from proxy.providers.sse import Event


class NoStream:
    """Embedding endpoints do not stream; an SSE body here is reported, not guessed at."""

    def on_event(self, event: Event) -> None:
        return

    def result(self) -> CallResult:
        return CallResult(problem="embedding responses are not streamed; got an event stream")


def _input_only(tokens: int) -> TokenUsage:
    return TokenUsage(input_tokens=tokens, output_tokens=0)


class Embeddings:
    """`WireFormat` for OpenAI-shaped `/embeddings`."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        model, response_id = text(body.get("model")), text(body.get("id"))
        usage = mapping(body.get("usage"))
        if usage is None:
            return CallResult(model, response_id, problem="response has no usage object")
        key = "prompt_tokens" if usage.get("prompt_tokens") is not None else "total_tokens"
        try:
            return CallResult(
                model, response_id, _input_only(token_count(usage, key, required=True))
            )
        except UsageError as exc:
            return CallResult(model, response_id, problem=f"unreadable usage: {exc}")

    def read_error(self, document: object) -> str | None:
        return openai_error(document)

    def stream_reader(self) -> NoStream:
        return NoStream()


def _voyage_units(usage: Mapping[str, object]) -> dict[str, Decimal]:
    pixels = usage.get("image_pixels")
    if isinstance(pixels, int) and not isinstance(pixels, bool) and pixels > 0:
        return {"image_pixels": Decimal(pixels)}
    return {}


class VoyageEmbeddings:
    """`WireFormat` for Voyage AI embeddings, multimodal embeddings and rerank."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        model = text(body.get("model"))
        usage = mapping(body.get("usage"))
        if usage is None:
            return CallResult(model, problem="response has no usage object")
        units = _voyage_units(usage)
        # Multimodal: `text_tokens` are the billed tokens, pixels are billed apart.
        key = "text_tokens" if units and usage.get("text_tokens") is not None else "total_tokens"
        try:
            tokens = _input_only(token_count(usage, key, required=True))
        except UsageError as exc:
            return CallResult(model, problem=f"unreadable usage: {exc}", units=units)
        return CallResult(model, usage=tokens, units=units)

    def read_error(self, document: object) -> str | None:
        # Voyage errors are `{"detail": "..."}`: a message, no code.
        return None

    def stream_reader(self) -> NoStream:
        return NoStream()
