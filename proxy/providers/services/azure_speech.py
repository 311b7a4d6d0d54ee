"""Azure AI Speech: text to speech (SSML characters) and short-audio / fast transcription.

- TTS `POST https://{region}.tts.speech.microsoft.com/cognitiveservices/v1`
  (https://learn.microsoft.com/azure/ai-services/speech-service/rest-text-to-speech): SSML in,
  audio out, no usage in the response, so the characters are counted from the request. What is
  billable (https://learn.microsoft.com/azure/ai-services/speech-service/text-to-speech,
  "Billable characters"): everything inside the SSML body except the `<speak>` and `<voice>`
  tags, markup (`<break>`, `<prosody>`, phonemes ...) and every white-space character
  included, each Unicode code point once, and each Chinese character (hanzi, kanji, hanja)
  twice. The page does not say how XML entities count: they are counted as sent. The voice
  (`<voice name=...>`) is the model.
- STT short audio `POST https://{region}.stt.speech.microsoft.com/speech/recognition/{mode}/cognitiveservices/v1`
  (https://learn.microsoft.com/azure/ai-services/speech-service/rest-speech-to-text-short):
  JSON `Duration` in 100-nanosecond ticks.
- Fast transcription `POST https://{region}.api.cognitive.microsoft.com/speechtotext/transcriptions:transcribe`
  (https://learn.microsoft.com/azure/ai-services/speech-service/fast-transcription-create):
  `durationMilliseconds`.
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
_VOICE_BODY = re.compile(r"<voice\b[^>]*>(.*?)</voice\s*>", re.DOTALL)
_SPEAK_BODY = re.compile(r"<speak\b[^>]*>(.*?)</speak\s*>", re.DOTALL)
# Han ideographs: CJK Unified Ideographs and extensions A-H, and the compatibility blocks.
_HAN = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002f800-\U0002fa1f\U00030000-\U000323af]"
)
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


def billable_characters(ssml: str) -> int:
    """Billable characters of an SSML request: the inside of its `<voice>` elements (else of
    `<speak>`), markup and white space included, Chinese characters counted twice.

    >>> billable_characters('<speak><voice name="v">Hi <break/>你好</voice></speak>')
    15
    """
    bodies = _VOICE_BODY.findall(ssml) or _SPEAK_BODY.findall(ssml) or [ssml]
    return sum(len(body) + len(_HAN.findall(body)) for body in bodies)


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
            units={CHARACTERS: Decimal(billable_characters(ssml))},
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
