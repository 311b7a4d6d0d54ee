"""Hostile input: SSRF, open relaying, malformed headers, oversized bodies, untrusted baggage.

Every connection stays on loopback: names that must be refused resolve to 127.0.0.1
(`localhost`) or are IP literals refused before any connection is tried; other resolver answers
come from a stub.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from proxy.protocol import PROXY_TOKEN_HEADER, TARGET_URL_HEADER
from proxy.resolver import GuardedResolver
from proxy.security import (
    ForbiddenAddress,
    address_refusal,
    bind_refusal,
    clean_label,
)
from proxy.settings import Settings, SettingsError
from proxy.telemetry import attribution
from semconv import (
    ERROR_TYPE,
    GEN_AI_USAGE_COST,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
)
from tests.reliability.conftest import (
    ANTHROPIC_BODY,
    OPENAI_BODY,
    OPENAI_COMPLETION,
    ROOT,
    Exchange,
    ProxyProcess,
    RawUpstream,
    answer_openai_json,
)

OPENAI = "api.openai.com"
TOKEN = "s3cret-proxy-token-0123456789"

# --- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # AWS, GCP and Azure instance metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fd12:3456::1",
        "fe80::1",
        "100.64.0.1",  # CGNAT; Alibaba Cloud metadata is 100.100.100.200
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "104.18.6.192", "2606:4700::6812:6c0"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_setting_admits_a_private_range():
    networks = Settings.from_env(
        {"LLMOBSERVE_ALLOWED_NETWORKS": "10.0.0.0/8, ::1"}
    ).allowed_networks
    assert address_refusal(ipaddress.ip_address("10.1.2.3"), networks) is None
    assert address_refusal(ipaddress.ip_address("::1"), networks) is None
    assert address_refusal(ipaddress.ip_address("192.168.0.1"), networks) is not None
    with pytest.raises(SettingsError, match="LLMOBSERVE_ALLOWED_NETWORKS"):
        Settings.from_env({"LLMOBSERVE_ALLOWED_NETWORKS": "10.0.0.0/33"})


class StubResolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


def guarded(*answers: str, allowed=(), exempt=()) -> GuardedResolver:
    async def make() -> GuardedResolver:
        resolver = GuardedResolver(allowed, exempt)
        resolver._inner = StubResolver(*answers)
        return resolver

    return asyncio.run(make())


@pytest.mark.parametrize(
    "answers", [("169.254.169.254",), ("10.0.0.7",), ("fd00::1",), ("127.0.0.1", "::1")]
)
def test_resolver_refuses_names_that_resolve_only_to_non_public_addresses(answers):
    with pytest.raises(ForbiddenAddress, match=r"llm\.example\.com resolves to"):
        asyncio.run(guarded(*answers).resolve("llm.example.com", 443))


def test_resolver_keeps_only_the_public_addresses_of_a_mixed_answer():
    results = asyncio.run(guarded("10.0.0.7", "93.184.216.34").resolve("llm.example.com", 443))
    assert [r["host"] for r in results] == ["93.184.216.34"]


def test_resolver_lets_exempt_and_allowed_targets_through():
    exempt = guarded("127.0.0.1", exempt=("localhost",))
    assert asyncio.run(exempt.resolve("localhost", 80))[0]["host"] == "127.0.0.1"
    allowed = guarded("10.0.0.7", allowed=(ipaddress.ip_network("10.0.0.0/8"),))
    assert asyncio.run(allowed.resolve("vllm.internal", 80))[0]["host"] == "10.0.0.7"


def test_allowed_name_that_resolves_to_loopback_is_refused_and_never_connected(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(allowed_hosts=("localhost",))
        response = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            headers={TARGET_URL_HEADER: f"http://localhost:{upstream.port}/v1/chat/completions"},
            json=OPENAI_BODY,
        )
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["type"] == "target_forbidden"
        assert "loopback" in error["message"]
        assert "LLMOBSERVE_ALLOWED_NETWORKS" in error["message"]
        assert upstream.connections == 0


def test_allowed_networks_let_a_local_model_server_through(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(
            allowed_hosts=("localhost",),
            allowed_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")),
        )
        response = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            headers={TARGET_URL_HEADER: f"http://localhost:{upstream.port}/v1/chat/completions"},
            json=OPENAI_BODY,
        )
    assert response.status_code == 200
    assert response.json() == OPENAI_COMPLETION


def test_upstream_override_is_explicit_and_allowed_even_by_name(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: f"http://localhost:{upstream.port}"})
        response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY)
    assert response.status_code == 200
    assert proxy.span().attributes[GEN_AI_USAGE_COST] > 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1:8080/v1/chat/completions",
        "http://127.0.0.1:9/v1/chat/completions",
        "http://[::1]:9/v1/chat/completions",
        "http://0.0.0.0:9/",
    ],
)
def test_allowed_ip_literals_in_private_ranges_are_refused_before_any_connection(run_proxy, url):
    host = httpx.URL(url).host
    proxy = run_proxy(allowed_hosts=(host,))
    response = httpx.get(f"{proxy.url}/x", headers={TARGET_URL_HEADER: url})
    assert response.status_code == 403
    assert "LLMOBSERVE_ALLOWED_NETWORKS" in response.json()["error"]["message"]
    assert proxy.spans(1, timeout=0.1) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com@127.0.0.1/v1/models",  # userinfo: the host is 127.0.0.1
        "https://127.0.0.1#@api.openai.com/v1/models",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "gopher://api.openai.com/",
    ],
)
def test_target_urls_that_disguise_another_host_are_refused(run_proxy, url):
    proxy = run_proxy()
    response = httpx.get(f"{proxy.url}/x", headers={TARGET_URL_HEADER: url})
    assert response.status_code in (400, 403)
    assert proxy.spans(1, timeout=0.1) == []


def test_redirects_are_passed_to_the_client_and_never_followed(run_proxy):
    with RawUpstream(answer_openai_json) as internal:

        async def redirect(exchange: Exchange) -> None:
            await exchange.read_request()
            await exchange.send_head(
                "302 Found",
                {"Location": f"http://127.0.0.1:{internal.port}/secret", "Content-Length": "0"},
            )

        with RawUpstream(redirect) as upstream:
            proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
            response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY)
        assert response.status_code == 302
        assert response.headers["location"] == f"http://127.0.0.1:{internal.port}/secret"
        assert internal.connections == 0


# --- Open relay -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "proxy.example.com"])
def test_binding_beyond_loopback_needs_a_token_or_an_explicit_opt_out(host):
    assert "LLMOBSERVE_PROXY_TOKEN" in (bind_refusal(host, Settings()) or "")
    assert bind_refusal(host, Settings(proxy_token=TOKEN)) is None
    assert bind_refusal(host, Settings(allow_open_proxy=True)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_binding_to_loopback_needs_no_token(host):
    assert bind_refusal(host, Settings()) is None


def test_cli_refuses_to_start_an_open_relay():
    result = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "--host", "0.0.0.0", "--port", "9"],
        env={"PATH": "/usr/bin:/bin", "LLMOBSERVE_PROXY_TOKEN": ""},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "LLMOBSERVE_PROXY_TOKEN" in result.stderr
    assert "LLMOBSERVE_ALLOW_OPEN_PROXY" in result.stderr


def test_short_token_is_refused_at_start_up():
    with pytest.raises(SettingsError, match="LLMOBSERVE_PROXY_TOKEN"):
        Settings.from_env({"LLMOBSERVE_PROXY_TOKEN": "short"})
    assert TOKEN not in repr(Settings.from_env({"LLMOBSERVE_PROXY_TOKEN": TOKEN}))


def test_token_is_required_checked_and_never_forwarded(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url}, proxy_token=TOKEN)
        url = f"{proxy.url}/openai/v1/chat/completions"
        missing = httpx.post(url, json=OPENAI_BODY)
        wrong = httpx.post(url, json=OPENAI_BODY, headers={PROXY_TOKEN_HEADER: TOKEN + "x"})
        right = httpx.post(url, json=OPENAI_BODY, headers={PROXY_TOKEN_HEADER: TOKEN})
        health = httpx.get(f"{proxy.url}/health")
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["error"]["type"] == "proxy_token_required"
    assert TOKEN not in missing.text
    assert health.status_code == 200  # probes need no token
    assert len(upstream.requests) == 1
    assert TOKEN.encode() not in upstream.requests[0]
    assert b"x-llmobserve" not in upstream.requests[0].lower()


async def call_as(
    client_address: str, proxy_settings: Settings, upstream_url: str
) -> httpx.Response:
    from proxy.app import create_app

    app = create_app(proxy_settings, tracer_provider=None)
    transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:9000") as client,
    ):
        return await client.post("/openai/v1/chat/completions", json=OPENAI_BODY)


@pytest.mark.parametrize("client", ["203.0.113.7", "10.1.2.3", "2001:db8::1"])
def test_non_loopback_clients_are_refused_without_a_token(client, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    with RawUpstream(answer_openai_json) as upstream:
        settings = Settings(upstream_overrides={OPENAI: upstream.url})
        refused = asyncio.run(call_as(client, settings, upstream.url))
        opened = Settings(upstream_overrides={OPENAI: upstream.url}, allow_open_proxy=True)
        allowed = asyncio.run(call_as(client, opened, upstream.url))
        local = asyncio.run(call_as("127.0.0.1", settings, upstream.url))
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "open_proxy_refused"
    assert "LLMOBSERVE_PROXY_TOKEN" in refused.json()["error"]["message"]
    assert (allowed.status_code, local.status_code) == (200, 200)
    assert len(upstream.requests) == 2


# --- Headers and sizes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"x-custom", b"a\r\nx-injected: 1"),
        (b"x-custom", b"a\nb"),
        (b"x-custom", b"a\rb"),
        (b"x-custom", b"a\x00b"),
        (b"x-custom", b"a\x7fb"),
        (b"bad name", b"v"),
        (b"x:y", b"v"),
        (b"x\ty", b"v"),
        (b"", b"v"),
        (TARGET_URL_HEADER.encode(), b"https://api.openai.com/v1/chat\r\nHost: evil"),
    ],
)
def test_invalid_header_names_and_values_are_refused_before_forwarding(name, value):
    async def send() -> httpx.Response:
        from proxy.app import create_app

        app = create_app(Settings(upstream_overrides={OPENAI: upstream.url}))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://proxy") as client,
        ):
            request = client.build_request("POST", "/openai/v1/chat/completions", json=OPENAI_BODY)
            request.headers._list.append((name, name.lower(), value))  # past httpx's checks
            return await client.send(request)

    with RawUpstream(answer_openai_json) as upstream:
        response = asyncio.run(send())
    assert response.status_code == 400
    assert response.json()["error"]["type"] in ("invalid_header", "routing_error")
    assert b"injected" not in response.content and b"evil" not in response.content
    assert upstream.connections == 0


@pytest.mark.parametrize(
    "value", [b"https://api.openai.com/v1/ chat", b"https://api.openai.com/\tx"]
)
def test_target_url_with_spaces_or_tabs_is_refused(run_proxy, value):
    proxy = run_proxy()
    with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(
            b"GET /x HTTP/1.1\r\nHost: p\r\n"
            + TARGET_URL_HEADER.encode()
            + b": "
            + value
            + b"\r\n\r\n"
        )
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 400")


def raw_exchange(port: int, request: bytes, *, read_timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and b'"error"' in received:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def test_metered_body_declared_over_the_limit_gets_413_before_it_is_sent(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url}, max_request_bytes=1024)
        port = int(proxy.url.rsplit(":", 1)[1])
        # Headers only: a 1 GB body is announced and never sent; the answer must not wait for it.
        started = time.monotonic()
        answer = raw_exchange(
            port,
            b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: p\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n",
        )
        assert time.monotonic() - started < 2
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"LLMOBSERVE_MAX_REQUEST_BYTES" in answer
        assert upstream.connections == 0


def test_metered_body_streamed_without_a_length_is_limited_too(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url}, max_request_bytes=1024)

        def chunks():
            for _ in range(10):
                yield b" " * 512

        response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", content=chunks())
        assert response.status_code == 413
        assert upstream.connections == 0


def test_streamed_upload_declared_over_its_limit_gets_413_before_forwarding(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(
            upstream_overrides={OPENAI: upstream.url}, max_streamed_request_bytes=4096
        )
        port = int(proxy.url.rsplit(":", 1)[1])
        answer = raw_exchange(
            port,
            b"POST /openai/v1/files HTTP/1.1\r\nHost: p\r\nContent-Length: 100000000\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"LLMOBSERVE_MAX_STREAMED_REQUEST_BYTES" in answer
        assert upstream.connections == 0


def test_streamed_upload_without_a_length_is_cut_at_its_limit(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(
            upstream_overrides={OPENAI: upstream.url}, max_streamed_request_bytes=4096
        )

        def chunks():
            for _ in range(100):
                yield b"x" * 1024

        try:
            status = httpx.post(f"{proxy.url}/openai/v1/files", content=chunks()).status_code
        except httpx.TransportError:  # still uploading when the proxy answered and hung up
            status = 413
        assert status == 413
        assert proxy.span().attributes[ERROR_TYPE] == "request_too_large"
        # The upstream saw the connection open and close without a complete request: a
        # truncated upload is not a valid one. (Waited for: the proxy can answer before the
        # upstream has even accepted the connection.)
        deadline = time.monotonic() + 5
        while not upstream.closed_at and time.monotonic() < deadline:
            time.sleep(0.01)
        assert upstream.connections == 1
        assert upstream.requests == []


def big_response(size: int, chunk: int = 256 * 1024):
    """A JSON-looking body of `size` bytes whose usage is at the very end."""

    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        tail = b'"],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
        head = b'{"model":"gpt-4o-mini","choices":["'
        filler = size - len(head) - len(tail)
        await exchange.send_head(
            headers={"Content-Type": "application/json", "Content-Length": str(size)}
        )
        exchange.writer.write(head)
        piece = b"x" * chunk
        while filler > 0:
            exchange.writer.write(piece[: min(chunk, filler)])
            filler -= chunk
            await exchange.writer.drain()
        exchange.writer.write(tail)
        await exchange.writer.drain()

    return script


@pytest.mark.integration
def test_response_of_any_size_streams_through_while_parsing_stays_bounded():
    size = 256 * 1024 * 1024
    with (
        RawUpstream(big_response(size)) as upstream,
        ProxyProcess(
            {
                "LLMOBSERVE_UPSTREAM_OVERRIDES": f"{OPENAI}={upstream.url}",
                "LLMOBSERVE_MAX_PARSE_BYTES": str(4 * 1024 * 1024),
                "OTEL_TRACES_EXPORTER": "none",
            }
        ) as proxy,
    ):
        before = proxy.rss_peak_kib()
        digest = hashlib.sha256()
        received = 0
        with httpx.stream(
            "POST", f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY, timeout=60
        ) as response:
            for chunk in response.iter_raw():
                digest.update(chunk)
                received += len(chunk)
        growth_mib = (proxy.rss_peak_kib() - before) / 1024
    assert response.status_code == 200
    assert received == size
    assert growth_mib < 48, f"the proxy's peak memory grew by {growth_mib:.0f} MiB"


def test_parser_gives_up_above_its_cap_and_says_so_on_the_span(run_proxy):
    with RawUpstream(big_response(3 * 1024 * 1024)) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url}, max_parse_bytes=1024 * 1024)
        response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY)
    assert len(response.content) == 3 * 1024 * 1024
    attrs = proxy.span().attributes
    assert "larger than 1048576 bytes" in attrs[LLMOBSERVE_COST_REASON]
    assert GEN_AI_USAGE_COST not in attrs


def test_one_endless_stream_event_is_forwarded_and_parsing_gives_up(run_proxy):
    async def endless_event(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.start_stream()
        await exchange.send_chunk(b"event: message_start\ndata: ")
        for _ in range(16):
            await exchange.send_chunk(b"x" * 256 * 1024)  # 4 MiB without an event boundary
        await exchange.end_stream()

    with RawUpstream(endless_event) as upstream:
        proxy = run_proxy(
            upstream_overrides={"api.anthropic.com": upstream.url}, max_parse_bytes=1024 * 1024
        )
        response = httpx.post(f"{proxy.url}/anthropic/v1/messages", json=ANTHROPIC_BODY)
    assert len(response.content) == len(b"event: message_start\ndata: ") + 4 * 1024 * 1024
    assert "exceeded the parse limit" in proxy.span().attributes[LLMOBSERVE_COST_REASON]


# --- Baggage and attribution headers are untrusted -----------------------------------------


def extracted(header: str) -> dict[str, str]:
    context = W3CBaggagePropagator().extract({"baggage": header})
    return attribution(context)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("c%0D%0Ainjected", "cinjected"),  # CR LF
        ("c%00x%7F%C2%85", "cx"),  # NUL, DEL, C1 NEL
        ("admin%E2%80%AEtxt.exe", "admintxt.exe"),  # right-to-left override
        ("a%E2%80%8Bb%EF%BB%BF", "ab"),  # zero-width space, byte-order mark
        ("caf%C3%A9%20%F0%9F%9A%80", "café 🚀"),  # ordinary Unicode is kept
    ],
)
def test_baggage_customer_id_is_sanitised(value, expected):
    assert extracted(f"llmobserve.customer.id={value}") == {LLMOBSERVE_CUSTOMER_ID: expected}


def test_baggage_values_are_capped_and_oversized_headers_ignored():
    long = "a" * 4000
    assert extracted(f"llmobserve.section.path={long}") == {LLMOBSERVE_SECTION_PATH: "a" * 256}
    many = ",".join(f"k{i}=v" for i in range(500)) + ",llmobserve.customer.id=c"
    assert len(extracted(many).get(LLMOBSERVE_CUSTOMER_ID, "")) <= 256
    huge = "llmobserve.customer.id=" + "b" * 20000
    assert len(extracted(huge).get(LLMOBSERVE_CUSTOMER_ID, "")) <= 256


def test_malformed_baggage_never_breaks_the_call_and_our_keys_never_leave(run_proxy):
    headers = {
        "baggage": "llmobserve.customer.id=%FF%FE%ZZ,=,;;;,team=red,llmobserve.section.path="
        + "%E2%80%AE" * 100,
        "X-LLMObserve-Customer-ID": "x" * 10000,
    }
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        response = httpx.post(
            f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY, headers=headers
        )
    assert response.status_code == 200
    attrs = proxy.span().attributes
    for key in (LLMOBSERVE_CUSTOMER_ID, LLMOBSERVE_SECTION_PATH):
        value = attrs.get(key, "")
        assert len(value) <= 256
        assert value == clean_label(value)
    forwarded = upstream.requests[0].lower()
    assert b"llmobserve.customer.id" not in forwarded
    assert b"x-llmobserve" not in forwarded
    assert b"team=red" in forwarded


def test_labels_are_cleaned_the_same_way_from_headers():
    assert clean_label("a\u202eb\r\nc" + "z" * 300) == "abc" + "z" * 253
    context = baggage.set_baggage("llmobserve.customer.id", "")
    assert attribution(context, {"x-llmobserve-customer-id": "id\x1b[31m"}) == {
        LLMOBSERVE_CUSTOMER_ID: "id[31m"
    }


def test_json_error_bodies_are_valid_json_whatever_the_input(run_proxy):
    proxy = run_proxy()
    weird = "https://évil.example.com/%ff\u2028"
    response = httpx.get(f"{proxy.url}/x", headers={TARGET_URL_HEADER: weird.encode()})
    assert response.status_code in (400, 403)
    json.loads(response.content)


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([(b"a", b"1"), (b"b", b"x\ty")], False),
        ([(b"a", b"1"), (b"b\tc", b"2")], True),
        ([(b"a\t", b"1")], True),
        ([(b"a", b"1"), (b"b", b"2\x0b")], True),
        ([], False),
    ],
)
def test_header_refusal_checks_every_name_and_value(headers, refused):
    from proxy.security import header_refusal

    assert (header_refusal(headers) is not None) is refused
