"""OpenTelemetry export set up from arguments and the standard `OTEL_*` variables.

Shared by the SDK (`observe()`) and the proxy. Honoured: `OTEL_TRACES_EXPORTER` (`otlp`,
`console`, `llmobserve`: the cost tree at exit, `none`), `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`
(`http/protobuf`, the default here, or `grpc` when `opentelemetry-exporter-otlp-proto-grpc` is
installed),
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `..._HEADERS`, `..._TIMEOUT`, `..._COMPRESSION`,
`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. Unknown values fall back to the defaults
with one warning, as OpenTelemetry does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)

_HTTP = "http/protobuf"


def build_resource(service_name: str | None, default_name: str) -> Resource:
    """`service.name`: the argument, else `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`,
    else `default_name`."""
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    name = resource.attributes.get(SERVICE_NAME)
    if not service_name and (not isinstance(name, str) or name.startswith("unknown_service")):
        resource = resource.merge(Resource({SERVICE_NAME: default_name}))
    return resource


def build_span_exporters(
    collector_url: str | None = None, environ: Mapping[str, str] | None = None
) -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` asks for (default: OTLP).

    `collector_url` is an OTLP/HTTP base such as `http://localhost:4318`; spans then go to
    `{collector_url}/v1/traces` whatever the `OTEL_EXPORTER_OTLP_*ENDPOINT` variables say.
    """
    env = os.environ if environ is None else environ
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in names:
        if name in ("", "none"):
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "llmobserve":
            from llmobserve._console_exporter import CostTreeExporter

            exporters.append(CostTreeExporter())
        elif name in ("otlp", "otlp_proto_http", "otlp_proto_grpc"):
            exporters.append(_otlp_exporter(collector_url, env, grpc=name == "otlp_proto_grpc"))
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported here; using otlp", name)
            exporters.append(_otlp_exporter(collector_url, env, grpc=False))
    return exporters


def _otlp_exporter(
    collector_url: str | None, env: Mapping[str, str], *, grpc: bool
) -> SpanExporter:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or ("grpc" if grpc else _HTTP)
    ).strip()
    if protocol == "grpc" and collector_url is None:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            log.warning(
                "OTLP protocol grpc needs opentelemetry-exporter-otlp-proto-grpc; "
                "exporting with http/protobuf instead"
            )
        else:
            exporter: SpanExporter = GrpcExporter()
            return exporter
    elif protocol not in (_HTTP, "grpc"):
        log.warning("OTLP protocol %r is not supported; using %s", protocol, _HTTP)

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from proxy.otlp import fast_exporter
    from proxy.otlp_transport import keep_alive_transport

    # The stock exporter sends; `fast_exporter` encodes its batches ~5x faster, byte for byte
    # the same protobuf (docs/benchmarks.md), so the application's export thread holds the GIL
    # for less time.
    # Reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT itself; default http://localhost:4318/v1/traces.
    otlp = (
        OTLPSpanExporter(endpoint=f"{collector_url.rstrip('/')}/v1/traces")
        if collector_url
        else OTLPSpanExporter()
    )
    # Sent with `http.client` instead of `requests` where that changes nothing but the CPU
    # (~0.2 instead of ~1.5 ms a batch, most of it holding the GIL): `proxy.otlp_transport`.
    keep_alive_transport(getattr(otlp, "_client", None))
    return fast_exporter(otlp)
