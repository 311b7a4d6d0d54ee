"""Azure AI Speech: text to speech (SSML characters) and short-audio / fast transcription.

- TTS `POST https://{region}.tts.speech.microsoft.com/cognitiveservices/v1`
  (https://learn.microsoft.com/azure/ai-services/speech-service/rest-text-to-speech): SSML in,
  audio out, no usage in the response. Billed per character of the text spoken, markup not
  counted, so the characters are counted from the request: tags removed, XML entities decoded,
  runs of white space as one. The voice (`<voice name=...>`) is the model.
- STT short audio `POST https://{region}.stt.speech.microsoft.com/speech/recognition/{mode}/cognitiveservices/v1`
  (https://learn.microsoft.com/azure/ai-services/speech-service/rest-speech-to-text-short):
  JSON `Duration` in 100-nanosecond ticks.
- Fast transcription `POST https://{region}.api.cognitive.microsoft.com/speechtotext/transcriptions:transcribe`
  (https://learn.microsoft.com/azure/ai-services/speech-service/fast-transcription-create):
  `durationMilliseconds`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services._common import (
    CHARACTERS,
    SECONDS,
    SPEECH_TO_TEXT,
    TEXT_TO_SPEECH,
    Context,
    HeaderReader,
    ServiceFormat,
    context_for,
    metered,
    quantity,
    request_units,
)

AZURE_SPEECH: Final = "azure.speech"
TTS: Final = "azure_speech_tts"
STT: Final = "azure_speech_stt"

PROVIDER: Final = Provider(
    AZURE_SPEECH,
    ("*.tts.speech.microsoft.com", "*.stt.speech.microsoft.com", "*.api.cognitive.microsoft.com"),
    "https://eastus.tts.speech.microsoft.com",
    "azure-speech",
)

_SHORT_AUDIO = re.compile(
    r"/speech/recognition/(conversation|interactive|dictation)/cognitiveservices/v1"
)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_VOICE = re.compile(rb"""<voice\b[^>]*\bname\s*=\s*["']([^"']+)["']""")
TICKS_PER_SECOND: Final = Decimal(10_000_000)


def detect(method: str, path: str) -> Endpoint | None:
    if method != "POST":
        return None
    if path == "/cognitiveservices/v1":
        return Endpoint(TEXT_TO_SPEECH, TTS)
    if _SHORT_AUDIO.fullmatch(path) or path == "/speechtotext/transcriptions:transcribe":
        return Endpoint(SPEECH_TO_TEXT, STT)
    return None


def spoken_characters(ssml: str) -> int:
    """Characters of the text an SSML document speaks (markup excluded)."""
    spoken = html.unescape(_TAG.sub(" ", ssml))
    return len(_SPACE.sub(" ", spoken).strip())


class Synthesis(ServiceFormat):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        try:
            ssml = body.decode("utf-8")
        except UnicodeDecodeError:
            return RequestFacts(body=body)
        voice = _VOICE.search(body)
        name = voice.group(1).decode("utf-8", "replace") if voice else None
        return RequestFacts(
            model=name,
            body=body,
            units={CHARACTERS: Decimal(spoken_characters(ssml))},
        )

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self._read_headers, context_for(content_type, request, headers))

    def _read_headers(self, context: Context, size: int) -> CallResult:
        return request_units(context, "request body is not UTF-8 SSML; characters not counted")


class Recognition(ServiceFormat):
    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        ticks = quantity(body.get("Duration"))
        if ticks is not None:
            return metered({SECONDS: ticks / TICKS_PER_SECOND})
        millis = quantity(body.get("durationMilliseconds"))
        if millis is not None:
            return metered({SECONDS: millis / Decimal(1000)})
        status = text(body.get("RecognitionStatus"))
        detail = f" (RecognitionStatus {status})" if status else ""
        return CallResult(problem=f"response has no Duration{detail}")


DETECTORS: Final = {AZURE_SPEECH: detect}
WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {TTS: Synthesis(), STT: Recognition()}
