"""A benchmark sink for OTLP/HTTP: receives spans and counts them, nothing more.

Not a collector (the product exports to any OTLP backend, see `otel-collector-config.yaml`):
it reads each `ExportTraceServiceRequest` only to count spans per `llmobserve.customer.id`,
which the load generator sets to the scenario's name, so each scenario's spans are counted
apart. Metrics exports are accepted and counted as requests.

`python -m bench.sink --port 4318`; `GET /counts` answers `{"spans": {tag: n}, ...}`.
"""

from __future__ import annotations

import argparse
import gzip
import re
from collections import Counter

import uvloop
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from semconv import LLMOBSERVE_CUSTOMER_ID

_EMPTY_TRACE_RESPONSE = ExportTraceServiceResponse().SerializeToString()
_PROTOBUF = "application/x-protobuf"
# A span's `llmobserve.customer.id` attribute on the wire: KeyValue{key (field 1), value
# (field 2): AnyValue{string_value (field 1)}}, lengths under 128 (one-byte varints).
_KEY = LLMOBSERVE_CUSTOMER_ID.encode()
_TAG = re.compile(
    re.escape(b"\x0a" + bytes([len(_KEY)]) + _KEY) + rb"\x12[\x00-\x7f]\x0a([\x00-\x7f])"
)


def tags(body: bytes) -> Counter[str]:
    """Spans per `llmobserve.customer.id` in an `ExportTraceServiceRequest`.

    Read from the bytes instead of parsing the message: the sink shares the load generator's
    core, and the full parse (~0.8 ms per batch of 128 spans on the reference machine) delayed
    the load generator and the fake upstream, which showed up as our proxy's c=1 p99.
    `tests/bench/test_sink.py` checks the counts against a full parse, for both encoders.
    """
    found: Counter[str] = Counter()
    for match in _TAG.finditer(body):
        end = match.end()
        found[body[end : end + match.group(1)[0]].decode("utf-8", "replace")] += 1
    return found


class Sink:
    def __init__(self) -> None:
        self.spans: Counter[str] = Counter()
        self.trace_requests = 0
        self.metric_requests = 0

    async def traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        self.trace_requests += 1
        self.spans.update(tags(body))
        return web.Response(body=_EMPTY_TRACE_RESPONSE, content_type=_PROTOBUF)

    async def metrics(self, request: web.Request) -> web.Response:
        await request.read()
        self.metric_requests += 1
        return web.Response(body=b"", content_type=_PROTOBUF)

    async def counts(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "spans": dict(self.spans),
                "trace_requests": self.trace_requests,
                "metric_requests": self.metric_requests,
            }
        )


def make_app() -> web.Application:
    sink = Sink()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", sink.traces)
    app.router.add_post("/v1/metrics", sink.metrics)
    app.router.add_get("/counts", sink.counts)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvloop.install()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
