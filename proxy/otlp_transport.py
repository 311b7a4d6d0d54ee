"""The HTTP transport our OTLP/HTTP span exporters send with: stdlib `http.client`, one
kept-alive connection.

The stock exporter sends through `requests`, whose per-request Python work (settings merged
from the environment, `.netrc` looked up, hooks, cookies, adapters) costs ~1.5 ms of CPU per
batch of 512 spans on the reference machine; `http.client` ~0.2 ms. That work runs on the
export thread, and every stretch of it holds the GIL the proxy's event loop (or the
application's threads) waits for: at c=1 the calls in flight during an export are the slowest
ones (docs/benchmarks.md).

`keep_alive_transport(client)` swaps it in only where it behaves as `requests` would: the
CA-bundle variables `requests` reads are honoured the same way, and with a proxy variable, a
`.netrc` file or a credential-provider session in the environment `requests` stays. Everything
else - retries, backoff, compression, headers, timeouts, logging - stays the stock exporter's
(`_OTLPHTTPClient`).
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport
from opentelemetry.exporter.http.transport._requests import RequestsHTTPTransport
from requests.structures import CaseInsensitiveDict

# Read by `requests` (trust_env) for every call. The CA bundles are honoured here as they are
# there; with a `.netrc` (or a proxy, below), requests stays.
_CA_BUNDLE_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_REQUESTS_ENV = ("NETRC",)
_NETRC_FILES = (".netrc", "_netrc")


@dataclass(frozen=True, slots=True)
class _Result(BaseHTTPResult):
    body: bytes = field(default=b"", hash=False, compare=False)
    header_map: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def content(self) -> bytes:
        return self.body

    def headers(self) -> Mapping[str, str]:
        return self.header_map


def _header_map(message: http.client.HTTPMessage) -> Mapping[str, str]:
    """Case-insensitive, repeated headers joined with commas (`BaseHTTPResult.headers`)."""
    joined: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in message.items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


class KeptAliveTransport(BaseHTTPTransport):
    """`BaseHTTPTransport` on `http.client`, as `requests` sends: TLS verified against
    certifi's bundle, or the file or directory `verify` names (`verify=False` checks nothing),
    client certificates from `cert`; one connection, reused while the collector keeps it open.
    """

    def __init__(
        self, *, verify: bool | str = True, cert: str | tuple[str, str] | None = None
    ) -> None:
        self._verify = verify
        self._cert = cert
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()  # one exchange at a time on the one connection
        self._connection: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int | None] | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> BaseHTTPResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            try:
                return self._exchange(method, url, headers or {}, deadline, data)
            except Exception as error:  # reported, as the stock transports do, not raised
                self._close()
                return _Result(error=error)

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        deadline: float | None,
        data: bytes | None,
    ) -> BaseHTTPResult:
        parts = urlsplit(url)
        connection = self._connection_to(parts.scheme, parts.hostname or "", parts.port, deadline)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        connection.request(method, target, body=data, headers=headers)
        _set_timeout(connection, deadline)
        response = connection.getresponse()
        body = response.read()
        if response.will_close:
            self._close()
        return _Result(
            status_code=response.status,
            reason=response.reason,
            body=body,
            header_map=_header_map(response.headers),
        )

    def _connection_to(
        self, scheme: str, host: str, port: int | None, deadline: float | None
    ) -> http.client.HTTPConnection:
        origin = (scheme, host, port)
        connection = self._connection
        if connection is not None and (origin != self._origin or _dropped(connection)):
            self._close()
            connection = None
        if connection is None:
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            if scheme == "https":
                connection = http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=self._tls()
                )
            elif scheme == "http":
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            else:
                raise ValueError(f"unsupported URL scheme {scheme!r} for OTLP/HTTP")
            self._connection, self._origin = connection, origin
        _set_timeout(connection, deadline)
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = _tls_context(self._verify, self._cert)
        return self._context

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def is_connection_error(self, exception: Exception | None) -> bool:
        # Refused, reset, timed out, closed before answering, name not resolved.
        return isinstance(exception, OSError | http.client.HTTPException)

    def close(self) -> None:
        with self._lock:
            self._close()


def _set_timeout(connection: http.client.HTTPConnection, deadline: float | None) -> None:
    timeout = None if deadline is None else max(deadline - time.monotonic(), 0.001)
    connection.timeout = timeout
    if connection.sock is not None:
        connection.sock.settimeout(timeout)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """An idle kept-alive connection that is readable was closed by the collector (as urllib3
    checks before reusing one): sending on it would fail, or worse, half succeed."""
    sock = connection.sock
    if sock is None:
        return False  # not connected yet: `http.client` connects on the next request
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _tls_context(verify: bool | str, cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        else:
            context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context(cafile=_certifi_bundle())
    if isinstance(cert, tuple):
        context.load_cert_chain(cert[0], cert[1])
    elif cert:
        context.load_cert_chain(cert)
    return context


def _certifi_bundle() -> str | None:
    """The bundle `requests` verifies with by default; the system's when certifi is absent."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def requests_specific_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """What in the environment `requests` would apply to an export and this transport would
    not: proxies, a `.netrc` file, a credential-provider session."""
    env = os.environ if environ is None else environ
    found = [name for name in _REQUESTS_ENV if env.get(name)]
    for name, value in env.items():
        upper = name.upper()
        if value and ("CREDENTIAL_PROVIDER" in upper or _is_proxy_variable(upper)):
            found.append(name)
    home = Path(env.get("HOME") or Path.home())
    found += [str(home / n) for n in _NETRC_FILES if (home / n).exists()]
    return found


def _is_proxy_variable(upper: str) -> bool:
    # `requests` reads `<scheme>_proxy` in either case (urllib's `getproxies_environment`).
    return upper.endswith("_PROXY") and upper != "NO_PROXY"


def keep_alive_transport(client: object) -> bool:
    """Replace a stock `_OTLPHTTPClient`'s `requests` transport by `KeptAliveTransport`, with
    the same `verify` and `cert`; False (and nothing changed) where `requests` must stay."""
    transport = getattr(client, "_transport", None)
    if type(transport) is not RequestsHTTPTransport or requests_specific_settings():
        return False
    endpoint = getattr(client, "_endpoint", "")
    if not isinstance(endpoint, str) or urlsplit(endpoint).username is not None:
        return False  # `requests` sends the URL's user and password as basic auth
    session = transport._session
    verify: bool | str = session.verify if isinstance(session.verify, bool | str) else True
    if verify is True:  # as `requests.Session.merge_environment_settings`
        verify = next((os.environ[n] for n in _CA_BUNDLE_ENV if os.environ.get(n)), True)
    cert = session.cert if isinstance(session.cert, str | tuple) else None
    client._transport = KeptAliveTransport(verify=verify, cert=cert)  # type: ignore[attr-defined]
    transport.close()
    return True
