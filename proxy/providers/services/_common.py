"""What every service wire format shares: response readers, request helpers, job ledgers.

Services differ from LLM APIs in where the billable quantity lives: a response header (TTS
characters), the request (SSML text, e-mail recipients), a JSON field of a job that finished
(transcript seconds), or nowhere but the fact that a call was made (vector database requests).
`ServiceFormat` is the `WireFormat` they all start from: the request body always goes upstream
byte for byte (AWS SigV4 signs it), and every successful response is read by a custom
`ResponseReader` that sees the request facts and the response headers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final, Generic, TypeVar

from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, decode_json, mapping, text
from proxy.providers.sse import Event

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""Largest response body a JSON reader holds (the proxy's default parse limit)."""

# Units the pricing engine prices (`pricing.UnitPrice.unit`).
CHARACTERS: Final = "characters"
SECONDS: Final = "seconds"
MINUTES: Final = "minutes"
IMAGES: Final = "images"
REQUESTS: Final = "requests"
READ_UNITS: Final = "read_units"
WRITE_UNITS: Final = "write_units"
SEARCH_UNITS: Final = "search_units"
BYTES: Final = "bytes"
EMAILS: Final = "emails"
SEGMENTS: Final = "segments"
VIDEO_SECONDS: Final = "video_seconds"
RECORDS: Final = "records"

# Price dimensions (the pricing engine accepts a closed set; the model is not one of them:
# it travels as the request or response model).
ENDPOINT: Final = "endpoint"
ENGINE: Final = "engine"

# Operation names (`gen_ai.operation.name` has no well-known values for these APIs).
TEXT_TO_SPEECH: Final = "text_to_speech"
SPEECH_TO_TEXT: Final = "speech_to_text"
IMAGE_ANALYSIS: Final = "image_analysis"
IMAGE_GENERATION: Final = "image_generation"
VIDEO_GENERATION: Final = "video_generation"
VECTOR_QUERY: Final = "vector_query"
VECTOR_WRITE: Final = "vector_write"
DATABASE_REQUEST: Final = "database_request"
SEARCH: Final = "search"
PAYMENT: Final = "payment"
MESSAGE: Final = "message"
EMAIL: Final = "email"

Units = dict[str, Decimal]


@dataclass(frozen=True)
class Context:
    """What a reader knows besides the body: the request and the response headers."""

    request: RequestFacts = field(default_factory=RequestFacts)
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers, names lower-cased."""
    content_type: str = ""

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return value.strip() if value is not None and value.strip() else None


def context_for(content_type: str, request: RequestFacts, headers: Mapping[str, str]) -> Context:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return Context(request, lowered, content_type)


def quantity(value: object) -> Decimal | None:
    """A non-negative finite number from JSON (int, float or numeric string), else None.

    Floats go through `str` so `12.34` stays `Decimal("12.34")`, not its binary expansion.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() and number >= 0 else None


def header_count(context: Context, *names: str) -> tuple[str, Decimal] | None:
    """The first of `names` present as a whole non-negative number: (name, value)."""
    for name in names:
        raw = context.header(name)
        if raw is not None and raw.isdigit():
            return name, Decimal(int(raw))
    return None


def json_object(body: bytes) -> Mapping[str, object] | None:
    """The request body as a JSON object, or None when it is anything else."""
    try:
        return mapping(json.loads(body))
    except ValueError:  # includes invalid UTF-8 (UnicodeDecodeError)
        return None


def error_type(document: object) -> str | None:
    """The error code of the common error shapes (`error.code`, AWS `__type`, PayPal `name`)."""
    body = mapping(document)
    if body is None:
        return None
    error = mapping(body.get("error"))
    if error is not None:
        found = text(error.get("code")) or text(error.get("type"))
        if found:
            return found
    detail = mapping(body.get("detail"))  # ElevenLabs
    if detail is not None and text(detail.get("status")):
        return text(detail.get("status"))
    aws = text(body.get("__type"))  # AWS JSON 1.1: "prefix#ThrottlingException"
    if aws:
        return aws.rsplit("#", 1)[-1]
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return str(code)  # Twilio, Zilliz
    return text(code) or text(body.get("name"))


class NoStream:
    """`StreamReader` for formats whose responses are never Server-Sent Events."""

    def on_event(self, event: Event) -> None:
        return

    def result(self) -> CallResult:
        return CallResult(problem="unexpected event stream for this endpoint; not read")


class JsonReader:
    """Holds a JSON body (bounded) and hands the parsed document to `read` at the end."""

    def __init__(
        self,
        read: Callable[[object, Context], CallResult],
        context: Context,
        *,
        on_empty: Callable[[Context], CallResult] | None = None,
        limit: int = MAX_BODY_BYTES,
    ) -> None:
        self._read = read
        self._context = context
        self._on_empty = on_empty
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._overflow = False

    def feed(self, data: bytes) -> None:
        if self._overflow:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._overflow = True
            self._parts.clear()
            return
        self._parts.append(data)

    def result(self) -> CallResult:
        if self._overflow:
            return CallResult(problem=f"response body larger than {self._limit} bytes; not read")
        body = b"".join(self._parts)
        if not body.strip():
            if self._on_empty is not None:
                return self._on_empty(self._context)
            return CallResult(problem="response body is empty")
        document = decode_json(body)
        if isinstance(document, CallResult):
            return document
        return self._read(document, self._context)


class HeaderReader:
    """Ignores the body (audio, images) and reads what the headers and request say."""

    def __init__(self, read: Callable[[Context, int], CallResult], context: Context) -> None:
        self._read = read
        self._context = context
        self._size = 0

    def feed(self, data: bytes) -> None:
        self._size += len(data)

    def result(self) -> CallResult:
        return self._read(self._context, self._size)


class ServiceFormat:
    """`WireFormat` base: body forwarded untouched, JSON responses read with context.

    Subclasses override `request_facts` (what the request alone says) and `read` (a parsed
    JSON response with its context), or `response_reader` for bodies that are not JSON.
    """

    def read_request(
        self, body: bytes, endpoint: Endpoint, inject_stream_usage: bool
    ) -> RequestFacts:
        # Never rewrite the body (AWS SigV4 signs it), and never fail the call over it: the
        # handler does not guard this step, so a reader bug must cost the metering only.
        try:
            facts = self.request_facts(body, endpoint)
        except Exception:
            log.exception("request reader failed; forwarding unchanged")
            return RequestFacts(body=body)
        return facts if facts.body is body else dataclasses.replace(facts, body=body)

    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        return RequestFacts(body=body)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader | None:
        context = context_for(content_type, request, headers)
        return JsonReader(self.read, context, on_empty=self.read_empty)

    def read(self, document: object, context: Context) -> CallResult:
        return CallResult(problem="no reader for this response")

    def read_empty(self, context: Context) -> CallResult:
        """A successful response without a body (most APIs always send one)."""
        return CallResult(problem="response body is empty")

    def read_document(self, document: object) -> CallResult:
        return self.read(document, Context())

    def read_error(self, document: object) -> str | None:
        return error_type(document)

    def stream_reader(self) -> NoStream:
        return NoStream()


V = TypeVar("V")


class Ledger(Generic[V]):
    """A bounded, thread-safe memory of job ids: meter a finished job once, not once per poll.

    Per process: a second proxy replica (or a restart) does not share it, so a job polled
    through two replicas is metered by each - the documented limit of a stateless proxy.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str, value: V) -> bool:
        """Record `key`; True only the first time it is seen (while remembered)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return False
            self._remember(key, value)
            return True

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._remember(key, value)

    def get(self, key: str) -> V | None:
        with self._lock:
            return self._items.get(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _remember(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


def metered(
    units: Mapping[str, Decimal],
    *,
    dimensions: Mapping[str, str] | None = None,
    model: str | None = None,
    response_id: str | None = None,
    reported_cost: Decimal | None = None,
) -> CallResult:
    return CallResult(
        response_model=model,
        response_id=response_id,
        units=dict(units),
        dimensions=dict(dimensions or {}),
        reported_cost=reported_cost,
    )


def request_units(context: Context, missing: str) -> CallResult:
    """Echo the units the request carried (Play.ht text, SSML, recipients), or say why none."""
    if not context.request.units:
        return CallResult(problem=missing)
    return metered(context.request.units, dimensions=context.request.dimensions)
