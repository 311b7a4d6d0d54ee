"""The provider SDKs under test: how each builds a client and makes one call, and the minimal
documented response its provider would answer with.

Which HTTP client each SDK really uses, in the versions pinned for the tests:
google-genai - httpx2 (sync), aiohttp (async, whenever aiohttp is installed); mistralai -
httpx2; cohere, groq, together, pinecone, elevenlabs - httpx; voyageai - requests (sync),
aiohttp (async). together sends chat calls to api-inference.together.ai, not api.together.xyz.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conftest import Received, Reply, json_reply

KEY = "fake-key-0123456789"
PROMPT = "Hello"


def openai_chat(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi!"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    ).encode()


GEMINI = json.dumps(
    {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hi!"}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        "modelVersion": "gemini-2.0-flash",
        "responseId": "resp-1",
    }
).encode()
COHERE = json.dumps(
    {
        "id": "c-1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi!"}]},
        "usage": {
            "billed_units": {"input_tokens": 3, "output_tokens": 2},
            "tokens": {"input_tokens": 3, "output_tokens": 2},
        },
    }
).encode()
VOYAGE = json.dumps(
    {
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.25, -0.5], "index": 0}],
        "model": "voyage-3",
        "usage": {"total_tokens": 1},
    }
).encode()
PINECONE = b'{"indexes":[]}'
AUDIO = b"ID3\x04fake-mp3-frames"
# ElevenLabs reports the characters it charged in a response header (`character-cost`).
AUDIO_REPLY: Reply = (200, {"content-type": "audio/mpeg", "character-cost": "5"}, AUDIO)


@dataclass(frozen=True)
class Case:
    """One SDK: how to build a client, make a call, and what the provider answers."""

    package: str
    library: str  # the HTTP client that carries the call
    host: str
    auth: str  # the header carrying the API key
    reply: Reply
    make: Callable[[], Any]
    call: Callable[[Any], Any]
    check: Callable[[Any], bool]
    ignore: str | None = None  # a warning the SDK itself raises

    def respond(self, _: Received) -> Reply:
        return self.reply


def _genai() -> Any:
    from google import genai

    return genai.Client(api_key=KEY)


def _mistral() -> Any:
    from mistralai.client import Mistral

    return Mistral(api_key=KEY)


def _cohere(asynchronous: bool = False) -> Any:
    import cohere

    return (cohere.AsyncClientV2 if asynchronous else cohere.ClientV2)(api_key=KEY)


def _groq(asynchronous: bool = False) -> Any:
    import groq

    return (groq.AsyncGroq if asynchronous else groq.Groq)(api_key=KEY)


def _together(asynchronous: bool = False) -> Any:
    import together

    return (together.AsyncTogether if asynchronous else together.Together)(api_key=KEY)


def _pinecone(asynchronous: bool = False) -> Any:
    import pinecone

    return (pinecone.PineconeAsyncio if asynchronous else pinecone.Pinecone)(api_key=KEY)


def _elevenlabs(asynchronous: bool = False) -> Any:
    from elevenlabs.client import AsyncElevenLabs, ElevenLabs

    return (AsyncElevenLabs if asynchronous else ElevenLabs)(api_key=KEY)


def _voyage(asynchronous: bool = False) -> Any:
    import voyageai

    return (voyageai.AsyncClient if asynchronous else voyageai.Client)(api_key=KEY)


MESSAGES = [{"role": "user", "content": PROMPT}]
TTS = {"voice_id": "JBFqnCBsd6RMkjVDRZzb", "text": PROMPT, "model_id": "eleven_multilingual_v2"}


def _chat_text(result: Any) -> str:
    return str(result.choices[0].message.content)


SYNC: dict[str, Case] = {
    "google-genai": Case(
        "google.genai",
        "httpx2",
        "generativelanguage.googleapis.com",
        "x-goog-api-key",
        json_reply(GEMINI),
        _genai,
        lambda c: c.models.generate_content(model="gemini-2.0-flash", contents=PROMPT),
        lambda r: r.text == "Hi!",
    ),
    "mistralai": Case(
        "mistralai",
        "httpx2",
        "api.mistral.ai",
        "authorization",
        json_reply(openai_chat("mistral-small-latest")),
        _mistral,
        lambda c: c.chat.complete(model="mistral-small-latest", messages=MESSAGES),
        lambda r: _chat_text(r) == "Hi!",
    ),
    "cohere": Case(
        "cohere",
        "httpx",
        "api.cohere.com",
        "authorization",
        json_reply(COHERE),
        _cohere,
        lambda c: c.chat(model="command-r-08-2024", messages=MESSAGES),
        lambda r: r.message.content[0].text == "Hi!",
    ),
    "groq": Case(
        "groq",
        "httpx",
        "api.groq.com",
        "authorization",
        json_reply(openai_chat("llama-3.1-8b-instant")),
        _groq,
        lambda c: c.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES),
        lambda r: _chat_text(r) == "Hi!",
    ),
    "together": Case(
        "together",
        "httpx",
        "api-inference.together.ai",
        "authorization",
        json_reply(openai_chat("meta-llama/Llama-3.3-70B-Instruct-Turbo")),
        _together,
        lambda c: c.chat.completions.create(
            model="meta-llama/Llama-3.3-70B-Instruct-Turbo", messages=MESSAGES
        ),
        lambda r: _chat_text(r) == "Hi!",
    ),
    "pinecone": Case(
        "pinecone",
        "httpx",
        "api.pinecone.io",
        "api-key",
        json_reply(PINECONE),
        _pinecone,
        lambda c: c.list_indexes(),
        lambda r: list(r) == [],
    ),
    "elevenlabs": Case(
        "elevenlabs",
        "httpx",
        "api.elevenlabs.io",
        "xi-api-key",
        AUDIO_REPLY,
        _elevenlabs,
        lambda c: b"".join(c.text_to_speech.convert(**TTS, output_format="mp3_44100_128")),
        lambda r: r == AUDIO,
    ),
    "voyageai": Case(
        "voyageai",
        "requests",
        "api.voyageai.com",
        "authorization",
        json_reply(VOYAGE),
        _voyage,
        lambda c: c.embed([PROMPT], model="voyage-3"),
        lambda r: r.embeddings == [[0.25, -0.5]] and r.total_tokens == 1,
    ),
}


async def _collect(chunks: Any) -> bytes:
    return b"".join([chunk async for chunk in chunks])


ASYNC: dict[str, Case] = {
    "google-genai-aiohttp": Case(
        "google.genai",
        "aiohttp",
        SYNC["google-genai"].host,
        "x-goog-api-key",
        json_reply(GEMINI),
        _genai,
        lambda c: c.aio.models.generate_content(model="gemini-2.0-flash", contents=PROMPT),
        SYNC["google-genai"].check,
        # google-genai subclasses aiohttp.ClientSession, which aiohttp discourages.
        ignore="ignore:Inheritance class AiohttpClientSession:DeprecationWarning",
    ),
    "mistralai": Case(
        "mistralai",
        "httpx2",
        "api.mistral.ai",
        "authorization",
        json_reply(openai_chat("mistral-small-latest")),
        _mistral,
        lambda c: c.chat.complete_async(model="mistral-small-latest", messages=MESSAGES),
        SYNC["mistralai"].check,
    ),
    "cohere": Case(
        "cohere",
        "httpx",
        "api.cohere.com",
        "authorization",
        json_reply(COHERE),
        lambda: _cohere(asynchronous=True),
        SYNC["cohere"].call,
        SYNC["cohere"].check,
    ),
    "groq": Case(
        "groq",
        "httpx",
        "api.groq.com",
        "authorization",
        json_reply(openai_chat("llama-3.1-8b-instant")),
        lambda: _groq(asynchronous=True),
        SYNC["groq"].call,
        SYNC["groq"].check,
    ),
    "together": Case(
        "together",
        "httpx",
        "api-inference.together.ai",
        "authorization",
        json_reply(openai_chat("meta-llama/Llama-3.3-70B-Instruct-Turbo")),
        lambda: _together(asynchronous=True),
        SYNC["together"].call,
        SYNC["together"].check,
    ),
    "pinecone": Case(
        "pinecone",
        "httpx",
        "api.pinecone.io",
        "api-key",
        json_reply(PINECONE),
        lambda: _pinecone(asynchronous=True),
        SYNC["pinecone"].call,
        SYNC["pinecone"].check,
    ),
    "elevenlabs": Case(
        "elevenlabs",
        "httpx",
        "api.elevenlabs.io",
        "xi-api-key",
        AUDIO_REPLY,
        lambda: _elevenlabs(asynchronous=True),
        lambda c: _collect(c.text_to_speech.convert(**TTS, output_format="mp3_44100_128")),
        SYNC["elevenlabs"].check,
    ),
    "voyageai-aiohttp": Case(
        "voyageai",
        "aiohttp",
        "api.voyageai.com",
        "authorization",
        json_reply(VOYAGE),
        lambda: _voyage(asynchronous=True),
        SYNC["voyageai"].call,
        SYNC["voyageai"].check,
    ),
}
