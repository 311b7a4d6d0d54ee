"""Anthropic Messages, as the simulator answers it.

Shapes follow https://docs.anthropic.com/en/api/messages,
https://docs.anthropic.com/en/docs/build-with-claude/streaming and
https://docs.anthropic.com/en/api/errors, cross-checked with anthropic-sdk-python's `Message`,
`Usage`, `MessageDeltaUsage` and `Raw*Event` types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ._scenarios import SLOW_STREAM_DELAY_SECONDS, Scenario, UnknownScenarioError, scenario_of
from ._usage import (
    CACHE_WRITE_TOKENS,
    CACHED_INPUT_TOKENS,
    count_input_tokens,
    count_output_tokens,
    reply_for,
    reply_pieces,
)
from ._wire import BodyReply, Reply, Request, StreamReply, dumps, json_reply, make_id, sse_event

# message_start reports a small provisional output count; message_delta carries the total.
_INITIAL_OUTPUT_TOKENS = 1


@dataclass(frozen=True)
class MessageUsage:
    # input_tokens EXCLUDES both cache buckets: total input = the sum of all three.
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def to_json(self, output_tokens: int | None = None) -> dict[str, object]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
            "service_tier": "standard",
        }

    def delta_json(self) -> dict[str, object]:
        # message_delta usage is cumulative (MessageDeltaUsage docstrings); the live API
        # repeats the input and cache counts there, so a parser must overwrite, not add.
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True)
class _MessagesRequest:
    model: str
    messages: list[object]
    system: object
    stream: bool


@dataclass(frozen=True)
class _Message:
    id: str
    model: str
    reply: str
    usage: MessageUsage


def messages(request: Request, seq: int) -> Reply:
    """Answer `POST /v1/messages`."""
    request_id = "req_" + make_id(f"anthropic-request:{seq}", 24)
    headers = (("request-id", request_id),)
    if not _has_credentials(request):
        return _error(
            401,
            "authentication_error",
            "x-api-key header is required (the llmobserve simulator accepts any key)",
            request_id,
        )
    try:
        scenario = scenario_of(request)
        parsed = _parse_body(request.body)
    except (UnknownScenarioError, ValueError) as exc:
        return _error(400, "invalid_request_error", str(exc), request_id)

    if scenario is Scenario.RATE_LIMIT:
        return _error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization (simulator) of "
            "50 requests per minute. Please retry after 1 second.",
            request_id,
            (("retry-after", "1"),),
        )
    if scenario is Scenario.SERVER_ERROR:
        return _error(500, "api_error", "Internal server error", request_id)

    message = _create(parsed, scenario, seq)
    if parsed.stream:
        return _stream(message, scenario, headers)
    payload = dumps(_message_json(message, message.reply, message.usage.to_json()))
    if scenario is Scenario.MALFORMED:
        payload = payload[: len(payload) // 2]
    return BodyReply(status=200, body=payload, headers=headers)


def _has_credentials(request: Request) -> bool:
    # The documented header is x-api-key, but anthropic-sdk-python 2.x sends the API key as
    # "Authorization: Bearer <key>" (anthropic-version 2026-10-21), so both are accepted.
    if (request.header("x-api-key") or "").strip():
        return True
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _parse_body(raw: bytes) -> _MessagesRequest:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("Request body must be a JSON object.")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str):
        raise ValueError("model: Field required")
    if not isinstance(messages, list):
        raise ValueError("messages: Field required")
    return _MessagesRequest(model, messages, body.get("system"), body.get("stream") is True)


def _create(parsed: _MessagesRequest, scenario: Scenario, seq: int) -> _Message:
    reply = reply_for(parsed.model)
    usage = MessageUsage(
        input_tokens=count_input_tokens(parsed.messages, parsed.system),
        output_tokens=count_output_tokens(reply),
    )
    if scenario is Scenario.CACHED:
        usage = MessageUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_input_tokens=CACHE_WRITE_TOKENS,
            cache_read_input_tokens=CACHED_INPUT_TOKENS,
        )
    return _Message(
        id="msg_01" + make_id(f"anthropic-message:{seq}", 22),
        model=parsed.model,
        reply=reply,
        usage=usage,
    )


def _message_json(
    message: _Message, text: str | None, usage: dict[str, object]
) -> dict[str, object]:
    """The Message object; `text=None` gives the empty shell that message_start carries."""
    finished = text is not None
    return {
        "id": message.id,
        "type": "message",
        "role": "assistant",
        "model": message.model,
        "content": [{"type": "text", "text": text}] if finished else [],
        "stop_reason": "end_turn" if finished else None,
        "stop_sequence": None,
        "usage": usage,
    }


def _stream(
    message: _Message, scenario: Scenario, headers: tuple[tuple[str, str], ...]
) -> StreamReply:
    start_usage = message.usage.to_json(output_tokens=_INITIAL_OUTPUT_TOKENS)
    events = [
        sse_event(
            "message_start",
            {"type": "message_start", "message": _message_json(message, None, start_usage)},
        ),
        sse_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse_event("ping", {"type": "ping"}),
    ]
    events += [
        sse_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
        for piece in reply_pieces(message.reply)
    ]
    events += [
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": message.usage.delta_json(),
            },
        ),
        sse_event("message_stop", {"type": "message_stop"}),
    ]
    if scenario is Scenario.MALFORMED:
        # Cut inside the second text delta: no message_delta (final usage), no message_stop.
        cut = events[4]
        events = [*events[:4], cut[: len(cut) // 2]]
    delay = SLOW_STREAM_DELAY_SECONDS if scenario is Scenario.SLOW_STREAM else 0.0
    return StreamReply(events=tuple(events), headers=headers, delay_seconds=delay)


def _error(
    status: int,
    error_type: str,
    message: str,
    request_id: str,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> BodyReply:
    body = {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }
    return json_reply(status, body, (("request-id", request_id), *extra_headers))
