"""The deterministic token-count rule (documented in the package docstring; keep in sync).

input  = 10 + sum over messages (system prompt included) of ceil(chars / 4)
output = number of whitespace-separated words in the canned reply
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BASE_INPUT_TOKENS = 10
CHARS_PER_TOKEN = 4
CACHED_INPUT_TOKENS = 1024
CACHE_WRITE_TOKENS = 256
REASONING_TOKENS = 64

GPT_REPLY = "Hello! How can I help you today?"
CLAUDE_REPLY = "Hello! I'm Claude. How can I help?"


def text_of(content: object) -> str:
    """The text of a message's `content`: a string, or the `text` of its text blocks.

    OpenAI and Anthropic accept either form and type their blocks (`{"type": "text", ...}`);
    Bedrock Converse blocks are untyped (`{"text": ...}`). Other blocks (images, tool
    results) count as no text.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block["text"]
            for block in content
            if isinstance(block, dict)
            and block.get("type", "text") == "text"
            and isinstance(block.get("text"), str)
        )
    return ""


def count_text_tokens(content: object) -> int:
    return math.ceil(len(text_of(content)) / CHARS_PER_TOKEN)


def count_input_tokens(messages: Sequence[object], system: object = None) -> int:
    """Input tokens for `messages` plus an optional top-level (Anthropic) `system` prompt."""
    total = BASE_INPUT_TOKENS + count_text_tokens(system)
    for message in messages:
        if isinstance(message, dict):
            total += count_text_tokens(message.get("content"))
    return total


def reply_for(model: str) -> str:
    """The canned reply for a model family: Claude models get their own greeting.

    Bedrock ids name the vendor first (`anthropic.claude-3-haiku-20240307-v1:0`,
    `us.anthropic.claude-...`), so a Claude model is one whose id contains `claude` after the
    last vendor prefix.
    """
    name = model.rsplit("/", 1)[-1]
    return CLAUDE_REPLY if name.startswith("claude") or ".claude" in name else GPT_REPLY


def count_output_tokens(reply: str) -> int:
    return len(reply.split())


def reply_pieces(reply: str) -> list[str]:
    """Split the reply into stream deltas, one word each, that concatenate back to it."""
    words = reply.split(" ")
    return [words[0], *(" " + word for word in words[1:])]
