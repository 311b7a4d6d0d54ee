"""Fuzz targets for every parser that reads untrusted bytes, with their hypothesis strategies.

Shared by the short CI run (`test_fuzz.py`) and the long dedicated run
(`bench/reliability/fuzz.py`). Each target takes generated input and checks properties beyond
"does not raise": the SSE splitter loses no byte and holds no more than its cap, the
event-stream decoder decodes the same messages however the bytes are cut, a response observer
forwards every chunk unchanged, header rules never let our headers or hop-by-hop ones through.

A parser error that the proxy's safety net catches (`ResponseObserver`, the handler around
`request_facts`) never reaches a client, but it is still a bug: `PARSER_BUGS` counts them, and
the targets fail on one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from opentelemetry.baggage.propagation import W3CBaggagePropagator

import proxy.providers.usage  # noqa: F401 - first: proxy.forwarding alone is a circular import
from proxy.forwarding import downstream_headers, strip_our_baggage, upstream_headers
from proxy.protocol import HEADER_PREFIX, OUR_BAGGAGE_KEYS
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.services.eventstream import EventStreamDecoder, HeaderError, parse_headers
from proxy.providers.sse import EventSplitter, parse_event
from proxy.providers.usage import WIRE_FORMATS, ResponseObserver, request_facts
from proxy.routing import RoutingError, resolve
from proxy.security import MAX_LABEL_CHARS, clean_label, header_refusal, request_refusal
from proxy.settings import Settings
from proxy.telemetry import attribution

PROVIDERS = Path(__file__).parents[2] / "proxy" / "providers"
_SOURCES = "\n".join(p.read_text() for p in PROVIDERS.rglob("*.py"))
# The names the parsers look for, taken from their source, so generated documents hit them.
KEYS = sorted(set(re.findall(r'"([A-Za-z_][A-Za-z0-9_.:-]{1,40})"', _SOURCES)))
EVENT_NAMES = sorted(set(re.findall(r'b"([a-z_.]{3,40})"', _SOURCES)))
HEADER_NAMES = sorted(k for k in KEYS if "-" in k and k[0].isalpha())
WIRE_FORMAT_NAMES = sorted(WIRE_FORMATS)
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/event-stream",
    "application/x-ndjson",
    "application/vnd.amazon.eventstream",
    "audio/mpeg",
    "text/plain",
    "",
]


class _ParserBugs(logging.Handler):
    """Counts the errors the proxy's safety nets log when a parser raises."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records


PARSER_BUGS = _ParserBugs()
logging.getLogger("proxy.providers").addHandler(PARSER_BUGS)


def _no_parser_bug(what: str) -> None:
    bugs = PARSER_BUGS.take()
    if bugs:
        exc = bugs[0].exc_info[1] if bugs[0].exc_info else None
        raise AssertionError(f"{what}: parser raised {exc!r} ({bugs[0].getMessage()})") from exc


# --- strategies -----------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(KEYS)
)
keys = st.sampled_from(KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
documents = st.dictionaries(keys, json_values, max_size=8) | json_values


def to_json(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at random places."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


sse_fragments = st.sampled_from(
    [b"\n", b"\r\n", b"\r", b"\n\n", b"data: ", b"data:", b"event: ", b": comment", b"id: 1"]
    + [name.encode() for name in EVENT_NAMES]
)
sse_bytes = st.lists(st.binary(max_size=40) | sse_fragments, max_size=30).map(b"".join)


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    events = draw(
        st.lists(
            st.tuples(st.sampled_from(EVENT_NAMES) | st.text(max_size=6), documents),
            max_size=6,
        )
    )
    body = b"".join(
        b"event: %s\ndata: %s\n\n" % (name.encode("utf-8", "replace"), to_json(doc))
        for name, doc in events
    )
    if draw(st.booleans()):
        body += draw(sse_bytes)  # garbage, or a stream cut mid-event
    return body


def eventstream_frame(headers: dict[str, tuple[int, bytes]], payload: bytes) -> bytes:
    encoded = b""
    for name, (kind, value) in headers.items():
        raw_name = name.encode()[:255]
        encoded += bytes([len(raw_name)]) + raw_name + bytes([kind]) + value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _short(value: bytes) -> bytes:
    return struct.pack(">H", len(value)) + value


header_values = st.one_of(
    st.tuples(st.just(0), st.just(b"")),
    st.tuples(st.just(4), st.binary(min_size=4, max_size=4)),
    st.tuples(st.just(7), st.text(max_size=20).map(lambda t: _short(t.encode()))),
    st.tuples(st.just(6), st.binary(max_size=20).map(_short)),
)


eventstream_messages = st.lists(
    st.tuples(
        st.dictionaries(
            st.sampled_from([":event-type", ":message-type", ":content-type", "x"]),
            header_values,
            max_size=3,
        ),
        documents.map(to_json) | st.binary(max_size=60),
    ),
    max_size=5,
)

header_names = st.sampled_from(
    [
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"upgrade",
        b"content-length",
        b"host",
        b"baggage",
        b"traceparent",
        b"authorization",
        b"x-llmobserve-customer-id",
        b"X-LLMObserve-Target-URL",
        b"x-llmobserve-proxy-token",
        b"proxy-authorization",
        b"accept-encoding",
    ]
    + [name.lower().encode() for name in HEADER_NAMES[:40]]
) | st.binary(max_size=12)
header_lists = st.lists(st.tuples(header_names, st.binary(max_size=40)), max_size=12)
baggage_values = st.lists(
    st.sampled_from([*sorted(OUR_BAGGAGE_KEYS), "team", "k", ""])
    .flatmap(lambda k: st.tuples(st.just(k), st.text(max_size=30) | st.binary(max_size=20)))
    .map(
        lambda kv: f"{kv[0]}={kv[1].hex() if isinstance(kv[1], bytes) else kv[1]}".encode(
            "utf-8", "replace"
        )
    )
    | st.binary(max_size=30),
    max_size=8,
).map(b",".join)


# --- targets --------------------------------------------------------------------------------


def sse_splitter(chunks: list[bytes], cap: int) -> None:
    """Lossless, bounded framing whatever arrives."""
    splitter = EventSplitter(cap)
    out = []
    for chunk in chunks:
        for event in splitter.feed(chunk):
            out.append(event.raw)
            if event.complete:
                assert event.raw.endswith((b"\n\n", b"\r\n\r\n", b"\r\r")), event.raw
        assert len(splitter._pending) <= cap
    out.append(splitter.tail())
    assert b"".join(out) == b"".join(chunks)
    for raw in out:
        parse_event(raw)


def eventstream_decoder(messages: list[tuple[dict[str, Any], bytes]], cut: list[int]) -> None:
    """Valid frames decode to the same messages however they are cut."""
    stream = b"".join(eventstream_frame(h, p) for h, p in messages)
    whole = EventStreamDecoder().feed(stream)
    pieces, start = [], 0
    for at in sorted(c % (len(stream) + 1) for c in cut):
        pieces.append(stream[start:at])
        start = at
    pieces.append(stream[start:])
    decoder = EventStreamDecoder()
    cut_up = [m for piece in pieces for m in decoder.feed(piece)]
    assert decoder.problem is None or whole == []
    assert [m.payload for m in cut_up] == [m.payload for m in whole]
    assert len(whole) == len(messages) or EventStreamDecoder().feed(stream) == whole
    assert decoder.pending == 0


def eventstream_garbage(data: bytes, flip: int) -> None:
    """Random and corrupted bytes: never an exception, a problem instead of wrong messages."""
    decoder = EventStreamDecoder()
    decoder.feed(data)
    if data:
        corrupted = bytearray(data)
        corrupted[flip % len(data)] ^= 0xFF
        EventStreamDecoder().feed(bytes(corrupted))
    with contextlib.suppress(HeaderError):
        parse_headers(data)


def wire_format_response(
    wire: str,
    *,
    status: int,
    content_type: str,
    encoding: str,
    body: bytes,
    chunks: list[int],
    headers: dict[str, str],
    model: str | None,
) -> None:
    """Any response, for any wire format: bytes forwarded unchanged, no exception, no bug."""
    PARSER_BUGS.take()  # only errors from this input count
    endpoint = Endpoint("chat", wire, model=model)
    facts = RequestFacts(model=model)
    if encoding == "gzip":
        body = gzip.compress(body)
    observer = ResponseObserver(
        endpoint,
        status=status,
        content_type=content_type,
        content_encoding=encoding,
        request=facts,
        headers={"Content-Type": content_type, **headers},
        max_parse_bytes=4096,
    )
    forwarded, start = [], 0
    for at in sorted(c % (len(body) + 1) for c in chunks):
        forwarded.append(observer.feed(body[start:at]))
        start = at
    forwarded.append(observer.feed(body[start:]))
    observer.finish()
    assert b"".join(forwarded) == body
    _no_parser_bug(f"{wire} {status} {content_type!r} {encoding!r}")


def wire_format_request(wire: str, body: bytes, inject: bool) -> None:
    PARSER_BUGS.take()  # only errors from this input count
    for stream_opt_in in (False, True):
        endpoint = Endpoint("chat", wire, stream_usage_opt_in=stream_opt_in)
        try:
            facts = request_facts(endpoint, body, inject_stream_usage=inject)
        except Exception as exc:  # the handler would forward unchanged: still a parser bug
            raise AssertionError(f"{wire}: request parser raised {exc!r}") from exc
        assert isinstance(facts.body, bytes)
        if not facts.usage_injected:
            assert facts.body == body
    _no_parser_bug(f"{wire} request")


_SETTINGS = Settings(allowed_hosts=("*.example.com", "llm.internal"))


def header_rules(headers: list[tuple[bytes, bytes]], baggage: bytes) -> None:
    """What goes upstream never carries ours, hop-by-hop ones, or our baggage entries."""
    headers = [(k.lower(), v) for k, v in headers] + [(b"baggage", baggage)]
    out = upstream_headers(headers, accept_identity=False)
    for name, value in out:
        lower = name.lower().encode("latin-1")
        assert not lower.startswith(HEADER_PREFIX.encode())
        assert lower not in (b"connection", b"transfer-encoding", b"keep-alive", b"upgrade")
        if lower == b"baggage":
            for member in value.encode("latin-1").split(b","):
                key = member.split(b";", 1)[0].split(b"=", 1)[0].strip()
                assert key.decode("latin-1") not in OUR_BAGGAGE_KEYS
    downstream_headers(headers, drop_length=True)
    strip_our_baggage(baggage)
    header_refusal(headers)
    request_refusal({"client": ("203.0.113.9", 1)}, headers, _SETTINGS)


def baggage_attribution(baggage: bytes, customer: str) -> None:
    """Whatever the caller sends, attribution values are clean and capped."""
    carrier = {"baggage": baggage.decode("latin-1"), "x-llmobserve-customer-id": customer}
    context = W3CBaggagePropagator().extract(carrier)
    for value in attribution(context, carrier).values():
        assert len(value) <= MAX_LABEL_CHARS
        assert value == clean_label(value)


def routing(target: str | None, path: str, query: str) -> None:
    try:
        resolved = resolve(path, query, target, _SETTINGS)
    except RoutingError as error:
        assert 400 <= error.status < 500
        return
    assert " " not in resolved.connect_url and "\n" not in resolved.connect_url


url_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list("/:@?#%[].-_ \t\r\n")),
    max_size=60,
)
targets = (
    st.none()
    | url_text
    | st.sampled_from(
        [
            "https://api.openai.com/v1/chat/completions",
            "http://169.254.169.254/latest",
            "https://a.example.com:99999/",
            "https://[::1]/",
            "https://user@llm.internal/",
        ]
    ).flatmap(lambda base: st.tuples(st.just(base), url_text).map("".join))
)

TARGETS: dict[str, tuple[Callable[..., None], dict[str, st.SearchStrategy[Any]]]] = {
    "sse_splitter": (
        sse_splitter,
        {"chunks": st.lists(sse_bytes, max_size=8), "cap": st.integers(1, 256)},
    ),
    "eventstream_decoder": (
        eventstream_decoder,
        {"messages": eventstream_messages, "cut": st.lists(st.integers(0, 10_000), max_size=6)},
    ),
    "eventstream_garbage": (
        eventstream_garbage,
        {"data": st.binary(max_size=200), "flip": st.integers(0, 10_000)},
    ),
    "wire_format_response": (
        wire_format_response,
        {
            "wire": st.sampled_from(WIRE_FORMAT_NAMES),
            "status": st.sampled_from([200, 200, 200, 201, 400, 401, 429, 500]),
            "content_type": st.sampled_from(CONTENT_TYPES),
            "encoding": st.sampled_from(["", "", "identity", "gzip", "br"]),
            "body": documents.map(to_json) | sse_streams() | st.binary(max_size=300),
            "chunks": st.lists(st.integers(0, 10_000), max_size=5),
            "headers": st.dictionaries(
                st.sampled_from(HEADER_NAMES or ["x"]), st.text(max_size=12), max_size=4
            ),
            "model": st.none() | st.sampled_from(["gpt-4o-mini", "claude-3-haiku-20240307", ""]),
        },
    ),
    "wire_format_request": (
        wire_format_request,
        {
            "wire": st.sampled_from(WIRE_FORMAT_NAMES),
            "body": documents.map(to_json) | st.binary(max_size=100),
            "inject": st.booleans(),
        },
    ),
    "header_rules": (header_rules, {"headers": header_lists, "baggage": baggage_values}),
    "baggage_attribution": (
        baggage_attribution,
        {"baggage": baggage_values | st.binary(max_size=100), "customer": st.text(max_size=300)},
    ),
    "routing": (
        routing,
        {
            "target": targets,
            "path": st.sampled_from(["/openai/v1/chat", "/anthropic/", "/x", "/"]) | url_text,
            "query": url_text,
        },
    ),
}
"""name -> (target, keyword strategies)."""

# Hand-made hostile documents every wire format sees in every run (the random ones may not
# reach all 100+ formats in a short run).
HOSTILE_DOCUMENTS: list[object] = [
    None,
    [],
    {},
    "usage",
    {"usage": None},
    {"usage": "many"},
    {"usage": []},
    {"usage": {"prompt_tokens": -1, "completion_tokens": "7", "input_tokens": 1e308}},
    {"usage": {"prompt_tokens": 10**30, "completion_tokens": True}},
    {"usage": {"input_tokens": float("nan")}},
    {"model": ["gpt"], "id": {"x": 1}, "choices": "none"},
    {"error": "x"},
    {"error": {"type": ["list"], "code": {"nested": True}}},
    json.loads("[" * 200 + "]" * 200),
]
