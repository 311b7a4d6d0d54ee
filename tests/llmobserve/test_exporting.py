"""The SDK's span exporters: the stock OTLP/HTTP exporter, with the proxy's fast encoder."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from llmobserve.exporting import build_span_exporters
from proxy.otlp import FastOTLPExporter


def test_otlp_exporter_encodes_with_the_fast_encoder_and_keeps_the_endpoint():
    (exporter,) = build_span_exporters("http://127.0.0.1:4318/", environ={})

    assert isinstance(exporter, FastOTLPExporter)
    wrapped = exporter._exporter
    assert type(wrapped) is OTLPSpanExporter
    assert wrapped._endpoint == "http://127.0.0.1:4318/v1/traces"
    exporter.shutdown()


def test_other_exporters_are_left_as_they_are():
    exporters = build_span_exporters(environ={"OTEL_TRACES_EXPORTER": "console"})

    assert [type(e) for e in exporters] == [ConsoleSpanExporter]
