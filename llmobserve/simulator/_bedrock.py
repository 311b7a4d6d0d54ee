"""Amazon Bedrock runtime, as the simulator answers it: Converse, ConverseStream, InvokeModel.

Shapes follow the API reference:
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html, with the
model-native InvokeModel bodies of
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters.html; errors as
https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html (the error name in
`x-amzn-ErrorType`, which botocore reads).

Like the real service, `inputTokens` EXCLUDES cache reads and writes
(https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from ._eventstream import event_message
from ._scenarios import SLOW_STREAM_DELAY_SECONDS, Scenario, UnknownScenarioError, scenario_of
from ._usage import (
    CACHE_WRITE_TOKENS,
    CACHED_INPUT_TOKENS,
    count_input_tokens,
    count_output_tokens,
    count_text_tokens,
    reply_for,
    reply_pieces,
)
from ._wire import BodyReply, Reply, Request, StreamReply, dumps, json_reply, make_id

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
# The raw path keeps the model id percent-encoded (`%3A`, `%2F` in ARNs), as it was signed.
_PATH = re.compile(r"/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke)")
_LATENCY_MS = 120


@dataclass(frozen=True)
class BedrockUsage:
    input_tokens: int
    """Uncached input only: the cache buckets are reported separately."""
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0

    def converse_json(self) -> dict[str, object]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": (
                self.input_tokens + self.output_tokens + self.cache_read + self.cache_write
            ),
            "cacheReadInputTokens": self.cache_read,
            "cacheWriteInputTokens": self.cache_write,
        }

    def headers(self) -> tuple[tuple[str, str], ...]:
        """InvokeModel reports usage in headers for every model family."""
        return (
            ("x-amzn-bedrock-input-token-count", str(self.input_tokens)),
            ("x-amzn-bedrock-output-token-count", str(self.output_tokens)),
            ("x-amzn-bedrock-cache-read-input-token-count", str(self.cache_read)),
            ("x-amzn-bedrock-cache-write-input-token-count", str(self.cache_write)),
            ("x-amzn-bedrock-invocation-latency", str(_LATENCY_MS)),
        )


def is_bedrock(request: Request) -> bool:
    return request.method == "POST" and request.raw_path.startswith(b"/model/")


def handle(request: Request, seq: int) -> Reply:
    """Answer `POST /model/{modelId}/converse|converse-stream|invoke`."""
    headers: tuple[tuple[str, str], ...] = (("x-amzn-requestid", _request_id(seq)),)
    found = _PATH.fullmatch(request.raw_path.decode("latin-1"))
    if found is None:
        return _error(404, "UnknownOperationException", "no such Bedrock operation", headers)
    try:
        scenario = scenario_of(request)
        body = _parse_body(request.body)
    except (UnknownScenarioError, ValueError) as exc:
        return _error(400, "ValidationException", str(exc), headers)
    refusal = _refusal(request, scenario, headers)
    if refusal is not None:
        return refusal

    model, action = unquote(found["model"]), found["action"]
    reply = reply_for(model)
    usage = _usage(body, reply, scenario)
    if action == "converse-stream":
        return _converse_stream(reply, usage, scenario, headers)
    if action == "converse":
        payload = dumps(_converse_json(reply, usage))
    else:
        payload = dumps(_native_json(model, body, reply, usage, seq))
        headers = (*headers, *usage.headers())
    if scenario is Scenario.MALFORMED:
        payload = payload[: len(payload) // 2]
    return BodyReply(status=200, body=payload, headers=headers)


def _refusal(
    request: Request, scenario: Scenario, headers: tuple[tuple[str, str], ...]
) -> BodyReply | None:
    """The error answer a request gets before any model runs, if any."""
    if not _has_credentials(request):
        return _error(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token (the llmobserve simulator accepts any signature)",
            headers,
        )
    if scenario is Scenario.RATE_LIMIT:
        return _error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            (*headers, ("retry-after", "1")),
        )
    if scenario is Scenario.SERVER_ERROR:
        return _error(500, "InternalServerException", "Internal server error", headers)
    return None


def _request_id(seq: int) -> str:
    raw = make_id(f"bedrock-request:{seq}", 32).lower()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def _has_credentials(request: Request) -> bool:
    # SigV4 (`AWS4-HMAC-SHA256 Credential=...`) or a Bedrock API key (`Bearer ...`).
    scheme, _, rest = (request.header("authorization") or "").partition(" ")
    return scheme in ("AWS4-HMAC-SHA256", "Bearer") and bool(rest.strip())


def _parse_body(raw: bytes) -> dict[str, object]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Malformed input request: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("Malformed input request: expected a JSON object")
    return body


def _usage(body: dict[str, object], reply: str, scenario: Scenario) -> BedrockUsage:
    messages = body.get("messages")
    if isinstance(messages, list):
        uncached = count_input_tokens(messages, body.get("system"))
    else:  # prompt-style native bodies (Meta Llama, Mistral, Titan's inputText)
        uncached = 10 + count_text_tokens(body.get("prompt") or body.get("inputText"))
    output = count_output_tokens(reply)
    if scenario is Scenario.CACHED:
        return BedrockUsage(uncached, output, CACHED_INPUT_TOKENS, CACHE_WRITE_TOKENS)
    return BedrockUsage(uncached, output)


def _converse_json(reply: str, usage: BedrockUsage) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
        "stopReason": "end_turn",
        "usage": usage.converse_json(),
        "metrics": {"latencyMs": _LATENCY_MS},
    }


def _native_json(
    model: str, body: dict[str, object], reply: str, usage: BedrockUsage, seq: int
) -> dict[str, object]:
    """The model family's own response body (InvokeModel passes it through)."""
    if ".claude" in model or model.startswith("claude"):
        return {
            "id": "msg_bdrk_01" + make_id(f"bedrock-message:{seq}", 20),
            "type": "message",
            "role": "assistant",
            "model": _anthropic_model(model),
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_creation_input_tokens": usage.cache_write,
                "cache_read_input_tokens": usage.cache_read,
                "output_tokens": usage.output_tokens,
            },
        }
    if isinstance(body.get("messages"), list):  # Amazon Nova
        nova_usage = {
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "totalTokens": usage.input_tokens + usage.output_tokens,
            "cacheReadInputTokenCount": usage.cache_read,
            "cacheWriteInputTokenCount": usage.cache_write,
        }
        return {**_converse_json(reply, usage), "usage": nova_usage}
    return {  # Meta Llama
        "generation": reply,
        "prompt_token_count": usage.input_tokens,
        "generation_token_count": usage.output_tokens,
        "stop_reason": "stop",
    }


def _anthropic_model(bedrock_id: str) -> str:
    """`us.anthropic.claude-3-haiku-20240307-v1:0` -> `claude-3-haiku-20240307` (the body
    names the vendor's model, not the Bedrock id)."""
    name = bedrock_id[bedrock_id.find("claude") :] if "claude" in bedrock_id else bedrock_id
    return re.sub(r"-v\d+(:\d+)?$", "", name)


def _converse_stream(
    reply: str, usage: BedrockUsage, scenario: Scenario, headers: tuple[tuple[str, str], ...]
) -> StreamReply:
    def event(name: str, value: dict[str, object]) -> bytes:
        return event_message(name, dumps(value))

    events = [event("messageStart", {"role": "assistant"})]
    events += [
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
        for piece in reply_pieces(reply)
    ]
    events += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        event("metadata", {"usage": usage.converse_json(), "metrics": {"latencyMs": _LATENCY_MS}}),
    ]
    if scenario is Scenario.MALFORMED:
        # Cut inside the second delta: no messageStop, no metadata (so no usage).
        cut = events[2]
        events = [*events[:2], cut[: len(cut) // 2]]
    delay = SLOW_STREAM_DELAY_SECONDS if scenario is Scenario.SLOW_STREAM else 0.0
    return StreamReply(
        events=tuple(events),
        headers=headers,
        delay_seconds=delay,
        content_type=EVENTSTREAM_CONTENT_TYPE,
    )


def _error(status: int, name: str, message: str, headers: tuple[tuple[str, str], ...]) -> BodyReply:
    return json_reply(status, {"message": message}, (*headers, ("x-amzn-errortype", name)))
