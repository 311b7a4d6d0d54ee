"""OpenAI Chat Completions, as the simulator answers it.

Shapes follow the API reference (https://platform.openai.com/docs/api-reference/chat/object,
https://platform.openai.com/docs/api-reference/chat-streaming) and openai-python's
`ChatCompletion`, `ChatCompletionChunk` and `CompletionUsage` types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ._scenarios import SLOW_STREAM_DELAY_SECONDS, Scenario, UnknownScenarioError, scenario_of
from ._usage import (
    CACHED_INPUT_TOKENS,
    REASONING_TOKENS,
    count_input_tokens,
    count_output_tokens,
    reply_for,
    reply_pieces,
)
from ._wire import BodyReply, Reply, Request, StreamReply, dumps, json_reply, make_id, sse_data

# The API answers with the dated snapshot an alias points at; pricing keys on that value.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
}
SYSTEM_FINGERPRINT = "fp_51m0la7ed0"
_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class ChatUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def to_json(self) -> dict[str, object]:
        # prompt_tokens INCLUDES cached_tokens and completion_tokens INCLUDES reasoning_tokens.
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


@dataclass(frozen=True)
class _ChatRequest:
    model: str
    messages: list[object]
    stream: bool
    include_usage: bool


@dataclass(frozen=True)
class _Completion:
    id: str
    created: int
    model: str
    reply: str
    usage: ChatUsage


def chat_completions(request: Request, seq: int, now: int) -> Reply:
    """Answer `POST /v1/chat/completions`."""
    headers = (("x-request-id", "req_" + make_id(f"openai-request:{seq}", 32)),)
    if not _has_bearer_token(request):
        return _error(
            401,
            "Incorrect API key provided. You must pass your API key in an Authorization "
            "header using Bearer auth (this is the llmobserve simulator: any key works).",
            "invalid_request_error",
            "invalid_api_key",
            headers,
        )
    try:
        scenario = scenario_of(request)
        chat = _parse_body(request.body)
    except (UnknownScenarioError, ValueError) as exc:
        return _error(400, str(exc), "invalid_request_error", None, headers)

    if scenario is Scenario.RATE_LIMIT:
        return _rate_limited(chat.model, headers)
    if scenario is Scenario.SERVER_ERROR:
        return _error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            headers,
        )

    completion = _complete(chat, scenario, seq, now)
    if chat.stream:
        return _stream(completion, chat.include_usage, scenario, headers)
    payload = dumps(_completion_json(completion))
    if scenario is Scenario.MALFORMED:
        payload = payload[: len(payload) // 2]
    return BodyReply(status=200, body=payload, headers=headers)


def _has_bearer_token(request: Request) -> bool:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _parse_body(raw: bytes) -> _ChatRequest:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"We could not parse the JSON body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("The request body must be a JSON object.")
    model, messages, options = body.get("model"), body.get("messages"), body.get("stream_options")
    if not isinstance(model, str):
        raise ValueError("you must provide a model parameter")
    if not isinstance(messages, list):
        raise ValueError("Missing required parameter: 'messages'.")
    return _ChatRequest(
        model=model,
        messages=messages,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )


def _complete(chat: _ChatRequest, scenario: Scenario, seq: int, now: int) -> _Completion:
    reply = reply_for(chat.model)
    prompt = count_input_tokens(chat.messages)
    completion = count_output_tokens(reply)
    cached = reasoning = 0
    if scenario is Scenario.CACHED:
        # A cache hit needs a prompt of 1024+ tokens; the hit is counted inside prompt_tokens.
        prompt += CACHED_INPUT_TOKENS
        cached = CACHED_INPUT_TOKENS
    if scenario is Scenario.REASONING:
        completion += REASONING_TOKENS
        reasoning = REASONING_TOKENS
    return _Completion(
        id="chatcmpl-" + make_id(f"openai-completion:{seq}", 29),
        created=now,
        model=SNAPSHOTS.get(chat.model, chat.model),
        reply=reply,
        usage=ChatUsage(prompt, completion, cached, reasoning),
    )


def _completion_json(completion: _Completion) -> dict[str, object]:
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": completion.reply,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": completion.usage.to_json(),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _stream(
    completion: _Completion,
    include_usage: bool,
    scenario: Scenario,
    headers: tuple[tuple[str, str], ...],
) -> StreamReply:
    def chunk(choices: list[dict[str, object]], usage: dict[str, object] | None = None) -> bytes:
        value: dict[str, object] = {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": completion.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        # With include_usage every chunk carries "usage": null until the final usage chunk;
        # without it the key is absent altogether.
        if include_usage:
            value["usage"] = usage
        return sse_data(value)

    def choice(delta: dict[str, object], finish_reason: str | None = None) -> dict[str, object]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    events = [chunk([choice({"role": "assistant", "content": "", "refusal": None})])]
    events += [chunk([choice({"content": piece})]) for piece in reply_pieces(completion.reply)]
    events.append(chunk([choice({}, "stop")]))
    if include_usage:
        events.append(chunk([], completion.usage.to_json()))
    events.append(_DONE)

    if scenario is Scenario.MALFORMED:
        # Cut inside the fourth chunk: the client sees half a JSON object and no [DONE].
        cut = events[3]
        events = [*events[:3], cut[: len(cut) // 2]]
    delay = SLOW_STREAM_DELAY_SECONDS if scenario is Scenario.SLOW_STREAM else 0.0
    return StreamReply(events=tuple(events), headers=headers, delay_seconds=delay)


def _rate_limited(model: str, headers: tuple[tuple[str, str], ...]) -> BodyReply:
    # 429 body as documented in https://platform.openai.com/docs/guides/error-codes
    # ("Rate limit reached for requests": type "requests", code "rate_limit_exceeded").
    return _error(
        429,
        f"Rate limit reached for {model} in organization org-simulator on requests per min "
        "(RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
        (
            *headers,
            ("retry-after", "1"),
            ("x-ratelimit-limit-requests", "3"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1s"),
        ),
    )


def _error(
    status: int,
    message: str,
    error_type: str,
    code: str | None,
    headers: tuple[tuple[str, str], ...],
) -> BodyReply:
    error = {"message": message, "type": error_type, "param": None, "code": code}
    return json_reply(status, {"error": error}, headers)
