"""Header rules (hop-by-hop, ours, baggage) and the request facts read before forwarding."""

from __future__ import annotations

import json

import pytest

from proxy.forwarding import (
    RequestFacts,
    connection_tokens,
    downstream_headers,
    read_request,
    strip_our_baggage,
    upstream_headers,
)
from proxy.protocol import BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH, TARGET_URL_HEADER

CUSTOMER = BAGGAGE_CUSTOMER_ID.encode()
SECTION = BAGGAGE_SECTION_PATH.encode()


def _upstream(
    headers: list[tuple[bytes, bytes]], *, accept_identity: bool = False
) -> list[tuple[str, str]]:
    return upstream_headers(headers, accept_identity=accept_identity)


# connection_tokens


def test_connection_tokens_reads_every_connection_header_lower_cased() -> None:
    headers = [
        (b"Connection", b"keep-alive, X-Trace-Hop"),
        (b"content-type", b"application/json"),
        (b"connection", b" Upgrade ,,"),
    ]

    assert connection_tokens(headers) == {b"keep-alive", b"x-trace-hop", b"upgrade"}


# upstream_headers


def test_upstream_headers_keeps_end_to_end_headers_in_order_and_case() -> None:
    headers = [
        (b"Authorization", b"Bearer sk-test"),
        (b"Content-Type", b"application/json"),
        (b"OpenAI-Beta", b"assistants=v2"),
        (b"anthropic-version", b"2023-06-01"),
        (b"X-Custom", b"a"),
        (b"X-Custom", b"b"),
    ]

    assert _upstream(headers) == [
        ("Authorization", "Bearer sk-test"),
        ("Content-Type", "application/json"),
        ("OpenAI-Beta", "assistants=v2"),
        ("anthropic-version", "2023-06-01"),
        ("X-Custom", "a"),
        ("X-Custom", "b"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        b"Connection",
        b"Keep-Alive",
        b"Proxy-Authenticate",
        b"Proxy-Authorization",
        b"Proxy-Connection",
        b"TE",
        b"Trailer",
        b"Transfer-Encoding",
        b"Upgrade",
    ],
)
def test_upstream_headers_drops_hop_by_hop_header(name: bytes) -> None:
    headers = [(name, b"x"), (b"Accept", b"*/*")]

    assert _upstream(headers) == [("Accept", "*/*")]


def test_upstream_headers_drops_headers_named_in_connection() -> None:
    headers = [
        (b"Connection", b"close, X-Hop-Only"),
        (b"X-Hop-Only", b"1"),
        (b"x-hop-only", b"2"),
        (b"X-Kept", b"3"),
    ]

    assert _upstream(headers) == [("X-Kept", "3")]


@pytest.mark.parametrize("name", [b"Host", b"Content-Length", b"traceparent", b"HOST"])
def test_upstream_headers_drops_headers_the_proxy_sets(name: bytes) -> None:
    assert _upstream([(name, b"x"), (b"tracestate", b"v=1")]) == [("tracestate", "v=1")]


@pytest.mark.parametrize(
    "name",
    [TARGET_URL_HEADER.encode(), b"X-LLMObserve-Target-URL", b"x-llmobserve-anything"],
)
def test_upstream_headers_drops_our_headers(name: bytes) -> None:
    headers = [(name, b"https://api.openai.com/v1/chat/completions"), (b"Accept", b"*/*")]

    assert _upstream(headers) == [("Accept", "*/*")]


def test_upstream_headers_removes_our_baggage_and_keeps_foreign_entries_byte_exact() -> None:
    # Members are kept as sent; only whitespace around the list as a whole is trimmed.
    value = b"tenant=a%20b;ttl=3,  " + CUSTOMER + b"=acme, k2=v2 ;p , " + SECTION + b"=a/b"

    assert _upstream([(b"baggage", value)]) == [("baggage", "tenant=a%20b;ttl=3, k2=v2 ;p")]


def test_upstream_headers_drops_baggage_that_held_only_our_entries() -> None:
    value = CUSTOMER + b"=acme;prop=1, " + SECTION + b"=checkout%2Fsummary"

    assert _upstream([(b"Baggage", value), (b"Accept", b"*/*")]) == [("Accept", "*/*")]


def test_upstream_headers_drops_empty_baggage_header() -> None:
    assert _upstream([(b"baggage", b""), (b"Accept", b"*/*")]) == [("Accept", "*/*")]


def test_upstream_headers_keeps_non_ascii_values_as_latin1() -> None:
    assert _upstream([(b"X-Name", "café".encode())]) == [
        ("X-Name", "café".encode().decode("latin-1"))
    ]


def test_upstream_headers_asks_for_identity_encoding_when_told() -> None:
    headers = [
        (b"Accept-Encoding", b"gzip, br"),
        (b"accept-encoding", b"zstd"),
        (b"Accept", b"*/*"),
    ]

    assert _upstream(headers, accept_identity=True) == [
        ("Accept", "*/*"),
        ("Accept-Encoding", "identity"),
    ]


def test_upstream_headers_keeps_accept_encoding_otherwise() -> None:
    assert _upstream([(b"Accept-Encoding", b"gzip, br")]) == [("Accept-Encoding", "gzip, br")]


# strip_our_baggage


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"a=1", b"a=1"),
        (b"a=1," + CUSTOMER + b"=x", b"a=1"),
        (CUSTOMER + b"=x,a=1", b"a=1"),
        (CUSTOMER + b"=x, a=1", b"a=1"),
        (b"a=1, " + CUSTOMER + b" = x ;meta, b=2", b"a=1, b=2"),
        (CUSTOMER + b"=x", b""),
        (
            b"llmobserve.customer=x,llmobserve.customer.id.other=y",
            b"llmobserve.customer=x,llmobserve.customer.id.other=y",
        ),
    ],
    ids=[
        "foreign",
        "ours-last",
        "ours-first",
        "ours-first-spaced",
        "ours-middle",
        "only-ours",
        "similar-keys",
    ],
)
def test_strip_our_baggage(value: bytes, expected: bytes) -> None:
    assert strip_our_baggage(value) == expected


# downstream_headers


def test_downstream_headers_lower_cases_and_drops_hop_by_hop() -> None:
    raw = [
        (b"Content-Type", b"text/event-stream"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"keep-alive, X-Upstream-Hop"),
        (b"X-Upstream-Hop", b"1"),
        (b"Content-Length", b"42"),
        (b"x-request-id", b"req_1"),
    ]

    assert downstream_headers(raw, drop_length=False) == [
        (b"content-type", b"text/event-stream"),
        (b"content-length", b"42"),
        (b"x-request-id", b"req_1"),
    ]


def test_downstream_headers_drops_content_length_when_body_changes() -> None:
    raw = [(b"Content-Length", b"42"), (b"Content-Encoding", b"gzip")]

    assert downstream_headers(raw, drop_length=True) == [(b"content-encoding", b"gzip")]


# read_request


def _body(document: object) -> bytes:
    return json.dumps(document).encode()


def _read(body: bytes, *, opt_in: bool = True, inject: bool = True) -> RequestFacts:
    return read_request(body, stream_usage_opt_in=opt_in, inject=inject)


def test_read_request_reads_model_and_keeps_body_when_not_streaming() -> None:
    body = _body({"model": "gpt-4o-mini", "messages": []})

    assert _read(body) == RequestFacts(model="gpt-4o-mini", stream=False, body=body)


@pytest.mark.parametrize("stream", [False, "true", 1, None])
def test_read_request_reads_stream_only_when_it_is_true(stream: object) -> None:
    body = _body({"model": "gpt-4o-mini", "stream": stream})

    facts = _read(body)

    assert facts.stream is False
    assert facts.body == body
    assert not facts.usage_injected


@pytest.mark.parametrize("model", [None, "", 4, ["gpt-4o"]])
def test_read_request_ignores_model_that_is_not_a_name(model: object) -> None:
    assert _read(_body({"model": model})).model is None


def test_read_request_asks_stream_for_usage_when_opted_in() -> None:
    body = _body(
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "Paris?"}],
        }
    )

    facts = _read(body)

    assert facts.usage_injected
    assert (facts.model, facts.stream) == ("gpt-4o-mini", True)
    assert json.loads(facts.body) == {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "Paris?"}],
        "stream_options": {"include_usage": True},
    }


def test_read_request_adds_stream_options_to_the_clients_bytes_and_changes_nothing_else() -> None:
    body = b'{ "stream" : true,\n  "model": "m", "messages": [{"content": "caf\\u00e9 1.50"}] }\n'

    facts = _read(body)

    assert facts.usage_injected
    assert facts.body == (
        b'{ "stream" : true,\n  "model": "m", "messages": [{"content": "caf\\u00e9 1.50"}] '
        b',"stream_options":{"include_usage":true}}\n'
    )


def test_read_request_injects_into_a_utf16_body_as_valid_json() -> None:
    body = json.dumps({"model": "m", "stream": True}).encode("utf-16")

    facts = _read(body)

    assert facts.usage_injected
    assert json.loads(facts.body) == {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_read_request_keeps_existing_stream_options_members() -> None:
    body = _body({"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}})

    facts = _read(body)

    assert facts.usage_injected
    assert json.loads(facts.body)["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }


def test_read_request_overrides_include_usage_false_and_hides_usage_again() -> None:
    body = _body({"model": "m", "stream": True, "stream_options": {"include_usage": False}})

    facts = _read(body)

    assert facts.usage_injected
    assert json.loads(facts.body)["stream_options"] == {"include_usage": True}


def test_read_request_keeps_body_when_client_already_asked_for_usage() -> None:
    body = _body({"model": "m", "stream": True, "stream_options": {"include_usage": True}})

    facts = _read(body)

    assert facts == RequestFacts(model="m", stream=True, body=body, usage_injected=False)


@pytest.mark.parametrize("options", ["include_usage", ["include_usage"], 1])
def test_read_request_keeps_body_when_stream_options_is_not_an_object(options: object) -> None:
    body = _body({"model": "m", "stream": True, "stream_options": options})

    facts = _read(body)

    assert facts.body == body
    assert not facts.usage_injected


def test_read_request_keeps_body_when_stream_options_is_null() -> None:
    # null is "not given": the proxy may ask for usage (and hide it again).
    facts = _read(_body({"model": "m", "stream": True, "stream_options": None}))

    assert facts.usage_injected
    assert json.loads(facts.body)["stream_options"] == {"include_usage": True}


def test_read_request_keeps_body_when_endpoint_has_no_usage_opt_in() -> None:
    body = _body({"model": "claude-3-haiku-20240307", "stream": True})

    facts = _read(body, opt_in=False)

    assert facts == RequestFacts(model="claude-3-haiku-20240307", stream=True, body=body)


def test_read_request_keeps_body_when_injection_is_disabled() -> None:
    body = _body({"model": "m", "stream": True})

    facts = _read(body, inject=False)

    assert facts == RequestFacts(model="m", stream=True, body=body)


def test_read_request_keeps_non_ascii_text_as_utf8_when_rewriting() -> None:
    body = _body(
        {
            "model": "m",
            "stream": True,
            "stream_options": {"include_obfuscation": False},  # rewritten, not spliced
            "messages": [{"content": "Ça coûte 5 €"}],
        }
    )

    facts = _read(body)

    assert "Ça coûte 5 €".encode() in facts.body
    assert json.loads(facts.body)["messages"] == [{"content": "Ça coûte 5 €"}]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{", b"[1, 2]", b'"text"', b"null", b"\xff\xfe{}", b"model=gpt-4o-mini"],
)
def test_read_request_keeps_body_untouched_when_it_is_not_a_json_object(body: bytes) -> None:
    assert _read(body) == RequestFacts(body=body)


def test_read_request_does_not_raise_when_streamed_body_has_lone_surrogate_escape() -> None:
    body = b'{"model":"m","stream":true,"messages":[{"content":"cut \\ud83d"}]}'

    facts = _read(body)

    assert json.loads(facts.body)["messages"] == [{"content": "cut \ud83d"}]
