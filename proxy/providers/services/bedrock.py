"""AWS Bedrock runtime: InvokeModel and Converse, JSON and streamed.

API: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_Operations_Amazon_Bedrock_Runtime.html
- `POST /model/{modelId}/invoke` and `/invoke-with-response-stream`: model-native bodies. Token
  counts come in response headers `X-Amzn-Bedrock-Input-Token-Count`, `-Output-Token-Count`,
  `-Cache-Read-Input-Token-Count`, `-Cache-Write-Input-Token-Count` (preferred: every model
  family gets them), else from the model's own body (Anthropic `usage`, Llama
  `prompt_token_count`, Titan `inputTextTokenCount`, ...). Streams end with a chunk carrying
  `amazon-bedrock-invocationMetrics`.
- `POST /model/{modelId}/converse` and `/converse-stream`: `usage` (`TokenUsage`:
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html); the
  stream's `metadata` event carries it.
Bedrock reports `inputTokens` WITHOUT the cache reads and writes (prompt caching guide:
https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html); the OpenTelemetry
`input_tokens` includes them, so the three are added, as for Anthropic.
`modelId` is percent-encoded in the path (`%3A`, `%2F` for ARNs) and is what is billed: a base
model, a cross-region profile (`us.anthropic...`) or an ARN. Response bodies name the vendor's
model (`claude-3-haiku-20240307`), not the Bedrock id, so no response model is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, UsageError, mapping, text
from proxy.providers.services import _aws
from proxy.providers.services._common import MAX_BODY_BYTES, Context, ServiceFormat, context_for
from proxy.providers.services.bedrock_stream import ConverseStreamReader, InvokeStreamReader
from proxy.providers.services.bedrock_usage import (
    converse_usage,
    finish_reasons,
    native_usage,
    usage_from_headers,
)
from semconv import GenAiOperationNameValues

INVOKE: Final = "aws_bedrock_invoke"
INVOKE_STREAM: Final = "aws_bedrock_invoke_stream"
CONVERSE: Final = "aws_bedrock_converse"
CONVERSE_STREAM: Final = "aws_bedrock_converse_stream"

_ACTIONS: Final = {
    "invoke": (INVOKE, False),
    "invoke-with-response-stream": (INVOKE_STREAM, True),
    "converse": (CONVERSE, False),
    "converse-stream": (CONVERSE_STREAM, True),
}
_PATH = re.compile(r"/model/(?P<model>.+)/(?P<action>[a-z-]+)")

PROVIDER = Provider(
    _aws.BEDROCK,
    _aws.HOSTS[_aws.BEDROCK],
    "https://bedrock-runtime.us-east-1.amazonaws.com",
    "bedrock",
)


def detect(method: str, path: str) -> Endpoint | None:
    """`/model/{modelId}/{action}` -> the endpoint, with the decoded model id."""
    found = _PATH.fullmatch(path)
    if method != "POST" or found is None or found.group("action") not in _ACTIONS:
        return None  # count-tokens is free; other paths are not metered
    wire_format, stream = _ACTIONS[found.group("action")]
    model = unquote(found.group("model"))
    embeddings = "embed" in model.lower()
    operation = GenAiOperationNameValues.EMBEDDINGS if embeddings else GenAiOperationNameValues.CHAT
    return Endpoint(operation, wire_format, model=model, stream=stream or None)


# Wire formats


class InvokeReader:
    """InvokeModel: headers first; the body only for ids, reasons and header-less usage."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        self._size += len(data)
        if self._size <= MAX_BODY_BYTES:
            self._parts.append(data)

    def result(self) -> CallResult:
        header_usage = usage_from_headers(self._context)
        try:
            body = (
                mapping(json.loads(b"".join(self._parts))) if self._size <= MAX_BODY_BYTES else None
            )
        except ValueError:
            body = None
        if body is None:
            if header_usage is not None:
                return CallResult(usage=header_usage)
            return CallResult(
                problem="InvokeModel response has no x-amzn-bedrock-*-token-count headers "
                "and its body is not a JSON object"
            )
        response_id = text(body.get("id")) or text(body.get("generation_id"))
        reasons = finish_reasons(body)
        if header_usage is not None:
            return CallResult(None, response_id, header_usage, reasons)
        try:
            usage = native_usage(body)
        except UsageError as exc:
            return CallResult(None, response_id, None, reasons, f"unreadable usage: {exc}")
        if usage is None:
            return CallResult(
                None,
                response_id,
                None,
                reasons,
                "InvokeModel response has no x-amzn-bedrock-*-token-count headers and the "
                "model's body reports no usage",
            )
        return CallResult(None, response_id, usage, reasons)


class Invoke(_aws.AwsErrors, ServiceFormat):
    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader | None:
        return InvokeReader(context_for(content_type, request, headers))


class Converse(Invoke):
    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader | None:
        return ServiceFormat.response_reader(self, content_type, request, headers)

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        reasons = finish_reasons(body)
        usage = mapping(body.get("usage"))
        if usage is None:
            header_usage = usage_from_headers(context)
            problem = None if header_usage else "response has no usage object"
            return CallResult(None, None, header_usage, reasons, problem)
        try:
            return CallResult(usage=converse_usage(usage), finish_reasons=reasons)
        except UsageError as exc:
            return CallResult(finish_reasons=reasons, problem=f"unreadable usage: {exc}")


class InvokeStream(Invoke):
    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return InvokeStreamReader()


class ConverseStream(Invoke):
    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return ConverseStreamReader()


WIRE_FORMATS: Final = {
    INVOKE: Invoke(),
    INVOKE_STREAM: InvokeStream(),
    CONVERSE: Converse(),
    CONVERSE_STREAM: ConverseStream(),
}
