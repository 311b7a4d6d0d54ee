"""OpenAI Images (`/v1/images/generations`, `/edits`, `/variations`; also Azure deployments).

https://platform.openai.com/docs/api-reference/images and openai-python
`types/images_response.py`. DALL-E is billed per image by (model, size, quality): the units
are the images returned (`len(data)`, else the request's `n`), the dimensions the response's
`size`/`quality` when it echoes them (GPT image models) else the request's, with the
documented defaults (`1024x1024`; `standard` quality for dall-e-3). GPT image models also
report token `usage` (`input_tokens` text + image, `output_tokens` image).
Streamed GPT image generation (https://platform.openai.com/docs/api-reference/images-streaming)
ends each image with `image_generation.completed` / `image_edit.completed`, which carries the
image's `usage`, `size` and `quality`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.llm._common import (
    DocumentReader,
    EventStreamReader,
    form_fields,
    is_event_stream,
    json_object,
    json_request,
    openai_error,
    with_request,
)
from proxy.providers.llm._names import DIMENSION_QUALITY, DIMENSION_SIZE, UNIT_IMAGES
from proxy.providers.llm.responses import event_type
from proxy.providers.result import (
    CallResult,
    ResponseReader,
    UsageError,
    mapping,
    text,
    token_count,
)
from proxy.providers.sse import Event

_COMPLETED = frozenset({"image_generation.completed", "image_edit.completed"})
_DEFAULT_SIZE = "1024x1024"


def read_usage(usage: Mapping[str, object]) -> TokenUsage:
    return TokenUsage(
        input_tokens=token_count(usage, "input_tokens", required=True),
        output_tokens=token_count(usage, "output_tokens", required=True),
    )


def _dimensions(source: Mapping[str, object]) -> dict[str, str]:
    found = {
        DIMENSION_SIZE: text(source.get("size")),
        DIMENSION_QUALITY: text(source.get("quality")),
    }
    return {name: value for name, value in found.items() if value}


def _request_dimensions(model: str | None, fields: Mapping[str, object]) -> dict[str, str]:
    dimensions = _dimensions(fields)
    if model and model.startswith("dall-e"):
        dimensions.setdefault(DIMENSION_SIZE, _DEFAULT_SIZE)
        if model.startswith("dall-e-3"):
            dimensions.setdefault(DIMENSION_QUALITY, "standard")
    return dimensions


def _image_count(value: object) -> int:
    """The request's `n` (default 1), from JSON or a form field."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 1)
    if isinstance(value, str) and value.strip().isdigit():
        return max(int(value), 1)
    return 1


def read_images_request(body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
    """JSON (generations) or multipart (edits, variations): model, `n`, size, quality, stream."""
    document = json_object(body)
    if document is not None:
        facts = json_request(body, endpoint, inject)
        fields: Mapping[str, object] = document
        count = document.get("n", 1)
    else:
        form = form_fields(body)
        model = form.get("model") or None
        facts = RequestFacts(model, form.get("stream", "").lower() == "true", body)
        fields, count = form, form.get("n", "1")
    model = facts.model or endpoint.model
    return RequestFacts(
        facts.model,
        facts.stream,
        facts.body,
        facts.usage_injected,
        units={UNIT_IMAGES: Decimal(_image_count(count))},
        dimensions=_request_dimensions(model, fields),
    )


def read_images(document: object, request: RequestFacts) -> CallResult:
    body = mapping(document)
    if body is None:
        return CallResult(problem="response body is not a JSON object")
    data = body.get("data")
    units = {UNIT_IMAGES: Decimal(len(data))} if isinstance(data, list) else {}
    usage = mapping(body.get("usage"))
    tokens: TokenUsage | None = None
    problem = None if units or usage else "response lists no images and no usage"
    if usage is not None:
        try:
            tokens = read_usage(usage)
        except UsageError as exc:
            problem = f"unreadable usage: {exc}"
    result = CallResult(usage=tokens, problem=problem, units=units, dimensions=_dimensions(body))
    return with_request(result, request)


class ImageStreamReader:
    """Counts completed images and adds up their usage; partial images are not decoded."""

    def __init__(self) -> None:
        self._images = 0
        self._input = 0
        self._output = 0
        self._dimensions: dict[str, str] = {}
        self._problem: str | None = None
        self._error: str | None = None

    def on_event(self, event: Event) -> None:
        kind = event_type(event)
        if kind not in _COMPLETED and kind != "error":
            return
        try:
            body = mapping(json.loads(event.data)) or {}
        except ValueError:
            self._problem = f"{kind} event is not valid JSON"
            return
        if kind == "error":
            error = mapping(body.get("error")) or body
            self._error = text(error.get("code")) or text(error.get("type")) or "stream_error"
            return
        self._images += 1
        self._dimensions.update(_dimensions(body))
        usage = mapping(body.get("usage"))
        if usage is not None:
            try:
                tokens = read_usage(usage)
            except UsageError as exc:
                self._problem = f"unreadable usage: {exc}"
                return
            self._input += tokens.input_tokens
            self._output += tokens.output_tokens

    def result(self) -> CallResult:
        if not self._images:
            problem = self._problem or "stream ended before an image was completed (truncated)"
            return CallResult(problem=problem, error_type=self._error)
        tokens = TokenUsage(self._input, self._output) if self._input or self._output else None
        return CallResult(
            usage=tokens,
            problem=self._problem,
            error_type=self._error,
            units={UNIT_IMAGES: Decimal(self._images)},
            dimensions=self._dimensions,
        )


class Images:
    """`WireFormat` for the Images API; its reader sees the request (n, size, quality)."""

    def read_request(self, body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
        return read_images_request(body, endpoint, inject)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        if is_event_stream(content_type):
            return EventStreamReader(ImageStreamReader(), lambda r: with_request(r, request))
        return DocumentReader(lambda document: read_images(document, request))

    def read_document(self, document: object) -> CallResult:
        return read_images(document, RequestFacts())

    def read_error(self, document: object) -> str | None:
        return openai_error(document)

    def stream_reader(self) -> ImageStreamReader:
        return ImageStreamReader()
