"""`KeptAliveTransport`: the OTLP exporters' HTTP on `http.client`, against real local servers."""

from __future__ import annotations

import http.server
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from llmobserve.exporting import build_span_exporters
from proxy.otlp import FastOTLPExporter
from proxy.otlp_transport import KeptAliveTransport, keep_alive_transport
from tests.local_servers import http_server, self_signed


class _Collector(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: list[tuple[int, str, bytes, str | None]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.client_address[1], self.path, body, self.headers.get("X-Tenant")))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Retry-After", "3")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        if body == b"one":  # as an idle timeout would: closed, without `Connection: close`
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[int, str, bytes, str | None]]]]:
    seen: list[tuple[int, str, bytes, str | None]] = []
    handler = type("Collector", (_Collector,), {"seen": seen})
    with http_server(handler) as url:
        yield url, seen


def test_transport_posts_and_keeps_the_connection_alive(collector):
    url, seen = collector
    transport = KeptAliveTransport()
    for index in range(3):
        result = transport.request(
            "POST", f"{url}/v1/traces", headers={"X-Tenant": "t1"}, data=b"batch%d" % index
        )
        assert result.error is None
        assert (result.status_code, result.reason, result.content()) == (200, "OK", b"ok")
        assert (
            result.headers().get("retry-after") == "3"
        )  # case-insensitive, as the client reads it
    assert [(path, body, tenant) for _, path, body, tenant in seen] == [
        ("/v1/traces", b"batch0", "t1"),
        ("/v1/traces", b"batch1", "t1"),
        ("/v1/traces", b"batch2", "t1"),
    ]
    assert len({port for port, *_ in seen}) == 1  # one connection for all three
    transport.close()


def test_transport_reconnects_when_the_collector_closed_the_idle_connection(collector):
    url, seen = collector
    transport = KeptAliveTransport()
    assert transport.request("POST", f"{url}/v1/traces", data=b"one").status_code == 200
    time.sleep(0.1)  # the server closed it after answering (below), without saying so
    assert transport.request("POST", f"{url}/v1/traces", data=b"two").status_code == 200
    assert [body for _, _, body, _ in seen] == [b"one", b"two"]
    assert seen[0][0] != seen[1][0]
    transport.close()


def test_transport_reports_a_refused_connection_as_a_connection_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    transport = KeptAliveTransport()
    result = transport.request("POST", f"http://127.0.0.1:{port}/v1/traces", data=b"x", timeout=2)
    assert result.status_code is None
    assert isinstance(result.error, ConnectionRefusedError)
    assert transport.is_connection_error(result.error)


def test_transport_gives_up_on_a_black_holed_collector_within_its_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts (in the kernel) and never answers
        port = listener.getsockname()[1]
        transport = KeptAliveTransport()
        started = time.monotonic()
        result = transport.request(
            "POST", f"http://127.0.0.1:{port}/v1/traces", data=b"x" * 100_000, timeout=0.3
        )
        elapsed = time.monotonic() - started
    assert isinstance(result.error, TimeoutError)
    assert transport.is_connection_error(result.error)
    assert 0.25 < elapsed < 2.0


def test_transport_verifies_tls_against_the_named_bundle_and_refuses_others(tmp_path):
    cert_path, key_path = self_signed(tmp_path, "collector")
    seen: list[tuple[int, str, bytes, str | None]] = []
    handler = type("Collector", (_Collector,), {"seen": seen})
    with http_server(handler, (cert_path, key_path)) as url:
        trusted = KeptAliveTransport(verify=str(cert_path))
        assert trusted.request("POST", f"{url}/v1/traces", data=b"x", timeout=5).status_code == 200
        default = KeptAliveTransport()  # certifi's bundle does not know our self-signed CA
        refused = default.request("POST", f"{url}/v1/traces", data=b"x", timeout=5)
        assert isinstance(refused.error, ssl.SSLCertVerificationError)
        unchecked = KeptAliveTransport(verify=False)
        assert (
            unchecked.request("POST", f"{url}/v1/traces", data=b"x", timeout=5).status_code == 200
        )
        for transport in (trusted, default, unchecked):
            transport.close()
    assert len(seen) == 2


def _transport_of(exporter: object) -> object:
    assert isinstance(exporter, FastOTLPExporter)
    return exporter._exporter._client._transport


def _clean(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in (
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NETRC",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))


def test_built_exporters_send_with_the_kept_alive_transport_and_the_exporters_settings(
    monkeypatch, tmp_path
):
    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/collector-ca.pem")
    (exporter,) = build_span_exporters(environ={})
    transport = _transport_of(exporter)
    assert isinstance(transport, KeptAliveTransport)
    assert transport._verify == "/etc/collector-ca.pem"


def test_built_exporters_verify_with_requests_ca_bundle_as_requests_would(monkeypatch, tmp_path):
    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    transport = _transport_of(build_span_exporters(environ={})[0])
    assert isinstance(transport, KeptAliveTransport)
    assert transport._verify == "/etc/ssl/corporate.pem"


@pytest.mark.parametrize("setting", ["proxy", "netrc", "credential provider", "user in URL"])
def test_built_exporters_keep_requests_where_it_would_apply_more(monkeypatch, tmp_path, setting):
    _clean(monkeypatch, tmp_path)
    user = "tenant:secret@" if setting == "user in URL" else ""
    exporter = OTLPSpanExporter(endpoint=f"http://{user}127.0.0.1:4318/v1/traces")
    if setting == "proxy":
        monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    elif setting == "netrc":
        (tmp_path / ".netrc").write_text("machine collector login a password b\n")
    else:  # set after the exporter is built: here only its name matters
        monkeypatch.setenv("_OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER", "x")
    assert not keep_alive_transport(exporter._client)
    assert type(exporter._client._transport) is RequestsHTTPTransport
