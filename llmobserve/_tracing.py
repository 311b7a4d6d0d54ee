"""Tracer provider: reuse the application's, or install one exporting over OTLP."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from llmobserve._config import Config
from llmobserve.exporting import build_resource, build_span_exporters

log = logging.getLogger("llmobserve")


@dataclass
class TracingSetup:
    provider: TracerProvider | None
    """The SDK provider spans go to (None when `OTEL_SDK_DISABLED`)."""
    owned: bool
    """True when llmobserve installed it (and so shuts it down)."""
    processors: list[BatchSpanProcessor]

    def flush(self, timeout_millis: int = 5000) -> None:
        if self.provider is not None:
            self.provider.force_flush(timeout_millis)

    def close(self) -> None:
        if self.provider is None:
            return
        if self.owned:
            self.provider.force_flush()
            return  # a global provider cannot be replaced; shutdown happens at exit
        for processor in self.processors:
            processor.force_flush()
            processor.shutdown()  # type: ignore[no-untyped-call]


def set_up_tracing(config: Config) -> TracingSetup:
    if config.sdk_disabled:
        log.info("llmobserve: OTEL_SDK_DISABLED=true, no spans will be recorded")
        return TracingSetup(None, owned=False, processors=[])
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # The application configured OpenTelemetry already: never replace its provider.
        processors = []
        if config.collector_url:
            for exporter in build_span_exporters(config.collector_url):
                processor = BatchSpanProcessor(exporter)
                current.add_span_processor(processor)
                processors.append(processor)
        return TracingSetup(current, owned=False, processors=processors)
    provider = TracerProvider(
        resource=build_resource(config.service_name, config.default_service_name)
    )
    processors = [BatchSpanProcessor(e) for e in build_span_exporters(config.collector_url)]
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return TracingSetup(provider, owned=True, processors=processors)
