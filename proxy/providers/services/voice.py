"""Voice APIs: ElevenLabs, Deepgram, Play.ht, AssemblyAI.

- ElevenLabs TTS (`POST /v1/text-to-speech/{voice_id}[/stream][/with-timestamps]`,
  https://elevenlabs.io/docs/api-reference/text-to-speech/convert): the body is audio (or JSON
  with base64 audio); the characters charged are in the `character-cost` response header
  (`x-character-count` in some responses); model from the request `model_id`.
- Deepgram (https://developers.deepgram.com/reference): `POST /v1/listen` returns
  `metadata.duration` (seconds of audio); `POST /v1/speak` returns audio with the billed
  characters in the `dg-char-count` header and the model in `dg-model-name`.
- Play.ht (`POST /api/v2/tts/stream`, `/api/v2/tts`, https://docs.play.ht/reference): no usage in
  the response; billed per character of the request `text`, by `voice_engine`.
- AssemblyAI (https://www.assemblyai.com/docs/api-reference/transcripts/get): transcripts are
  jobs; `GET /v2/transcript/{id}` with `status: completed` carries `audio_duration` (seconds),
  metered once per transcript id however often it is polled. Requests name a priority list in
  `speech_models` (the singular `speech_model` is deprecated); the model that actually ran, and
  so sets the hourly rate, is `speech_model_used` (assemblyai-python-sdk
  `_transcript_fields.py`), with `speech_model` as the fallback for older transcripts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services._common import (
    CHARACTERS,
    ENGINE,
    SECONDS,
    SPEECH_TO_TEXT,
    TEXT_TO_SPEECH,
    Context,
    HeaderReader,
    Ledger,
    ServiceFormat,
    context_for,
    header_count,
    json_object,
    metered,
    quantity,
    request_units,
)

ELEVENLABS: Final = "elevenlabs"
DEEPGRAM: Final = "deepgram"
PLAYHT: Final = "playht"
ASSEMBLYAI: Final = "assemblyai"

ELEVENLABS_TTS: Final = "elevenlabs_tts"
DEEPGRAM_LISTEN: Final = "deepgram_listen"
DEEPGRAM_SPEAK: Final = "deepgram_speak"
PLAYHT_TTS: Final = "playht_tts"
ASSEMBLYAI_TRANSCRIPT: Final = "assemblyai_transcript"

PROVIDERS: Final = (
    Provider(ELEVENLABS, ("api.elevenlabs.io",), "https://api.elevenlabs.io", "elevenlabs"),
    Provider(DEEPGRAM, ("api.deepgram.com",), "https://api.deepgram.com", "deepgram"),
    Provider(PLAYHT, ("api.play.ht",), "https://api.play.ht", "playht"),
    Provider(
        ASSEMBLYAI,
        ("api.assemblyai.com", "api.eu.assemblyai.com"),
        "https://api.assemblyai.com",
        "assemblyai",
    ),
)

_ELEVENLABS_TTS = re.compile(
    r"/v1/(text-to-speech/[^/]+(/stream)?(/with-timestamps)?|text-to-dialogue(/stream)?"
    r"|sound-generation)"
)
_TRANSCRIPT = re.compile(r"/v2/transcript/[^/]+")


def detect_elevenlabs(method: str, path: str) -> Endpoint | None:
    if method == "POST" and _ELEVENLABS_TTS.fullmatch(path):
        return Endpoint(TEXT_TO_SPEECH, ELEVENLABS_TTS)
    return None


def detect_deepgram(method: str, path: str) -> Endpoint | None:
    if method == "POST" and path == "/v1/listen":
        return Endpoint(SPEECH_TO_TEXT, DEEPGRAM_LISTEN)
    if method == "POST" and path == "/v1/speak":
        return Endpoint(TEXT_TO_SPEECH, DEEPGRAM_SPEAK)
    return None


def detect_playht(method: str, path: str) -> Endpoint | None:
    if method == "POST" and path in ("/api/v2/tts/stream", "/api/v2/tts"):
        return Endpoint(TEXT_TO_SPEECH, PLAYHT_TTS)
    return None


def detect_assemblyai(method: str, path: str) -> Endpoint | None:
    if (method == "POST" and path == "/v2/transcript") or (
        method == "GET" and _TRANSCRIPT.fullmatch(path)
    ):
        return Endpoint(SPEECH_TO_TEXT, ASSEMBLYAI_TRANSCRIPT)
    return None


class _HeadersOnly(ServiceFormat):
    """Audio bodies: read the headers (and the request), never buffer the audio."""

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self.read_headers, context_for(content_type, request, headers))

    def read_headers(self, context: Context, size: int) -> CallResult:
        raise NotImplementedError


class ElevenLabsSpeech(_HeadersOnly):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        request = json_object(body) or {}
        return RequestFacts(model=text(request.get("model_id")), body=body)

    def read_headers(self, context: Context, size: int) -> CallResult:
        found = header_count(context, "character-cost", "x-character-count")
        if found is None:
            return CallResult(problem="response has no character-cost header")
        return metered({CHARACTERS: found[1]})


class DeepgramSpeak(_HeadersOnly):
    def read_headers(self, context: Context, size: int) -> CallResult:
        found = header_count(context, "dg-char-count")
        model = context.header("dg-model-name")
        if found is None:
            return CallResult(response_model=model, problem="response has no dg-char-count header")
        return metered({CHARACTERS: found[1]}, model=model)


class DeepgramListen(ServiceFormat):
    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        metadata = mapping(body.get("metadata"))
        if metadata is None:
            if text(body.get("request_id")):  # `callback=`: results go to the callback URL
                return CallResult(
                    response_id=text(body.get("request_id")),
                    problem="callback request: the transcript (and its duration) goes to your "
                    "callback URL, which the proxy never sees",
                )
            return CallResult(problem="response has no metadata object")
        duration = quantity(metadata.get("duration"))
        request_id = text(metadata.get("request_id"))
        model = _deepgram_model(metadata)
        if duration is None:
            return CallResult(model, request_id, problem="metadata has no duration")
        return metered({SECONDS: duration}, model=model, response_id=request_id)


def _deepgram_model(metadata: Mapping[str, object]) -> str | None:
    """`model_info[*].arch` (`nova-3`), the family prices are set by; else its `name`."""
    infos = [mapping(info) or {} for info in (mapping(metadata.get("model_info")) or {}).values()]
    names = [text(i.get("arch")) or text(i.get("name")) for i in infos]
    return next((name for name in names if name), None)


class PlayhtSpeech(_HeadersOnly):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        request = json_object(body) or {}
        spoken = request.get("text")
        if not isinstance(spoken, str):
            return RequestFacts(body=body)
        engine = text(request.get("voice_engine"))
        return RequestFacts(
            model=engine,
            body=body,
            units={CHARACTERS: Decimal(len(spoken))},
            dimensions={ENGINE: engine} if engine else {},
        )

    def read_headers(self, context: Context, size: int) -> CallResult:
        return request_units(context, "request has no text to count")


class AssemblyAITranscript(ServiceFormat):
    def __init__(self) -> None:
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        transcript_id, status = text(body.get("id")), text(body.get("status"))
        if transcript_id is None:
            return CallResult(problem="response is not a transcript")
        if status != "completed":
            return CallResult(
                response_id=transcript_id,
                problem=f"transcript is {status}; metered once, when a GET shows it completed",
            )
        duration = quantity(body.get("audio_duration"))
        model = text(body.get("speech_model_used")) or text(body.get("speech_model"))
        if duration is None:
            return CallResult(
                model, transcript_id, problem="completed transcript has no audio_duration"
            )
        if not self.ledger.first(transcript_id, True):
            return CallResult(model, transcript_id, problem="transcript was already metered")
        return metered({SECONDS: duration}, model=model, response_id=transcript_id)


DETECTORS: Final = {
    ELEVENLABS: detect_elevenlabs,
    DEEPGRAM: detect_deepgram,
    PLAYHT: detect_playht,
    ASSEMBLYAI: detect_assemblyai,
}

WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {
    ELEVENLABS_TTS: ElevenLabsSpeech(),
    DEEPGRAM_LISTEN: DeepgramListen(),
    DEEPGRAM_SPEAK: DeepgramSpeak(),
    PLAYHT_TTS: PlayhtSpeech(),
    ASSEMBLYAI_TRANSCRIPT: AssemblyAITranscript(),
}
