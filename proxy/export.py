"""Span export that never holds up a proxied call: a bounded queue, counted drops, one warning.

Calls end their span with `SpanQueue.on_end`, which only appends to a bounded in-memory queue
(for the OTLP exporter, the span's encoded bytes); a background thread exports batches. When
the backend is down, slow or black-holed (accepting and never answering), the queue fills and
further spans are dropped: each is counted in `llmobserve.proxy.spans.dropped` (by
`error.type`), the first drop of an outage logs one warning, and memory stays bounded by
`OTEL_BSP_MAX_QUEUE_SIZE` spans.

Why not the SDK's `BatchSpanProcessor`: it counts drops only when the SDK's internal metrics are
switched on, repeats its queue-full warning every 20 s, and its `force_flush` ignores its
timeout (open-telemetry/opentelemetry-python#4568), so a black-holed collector could hold a
SIGTERM past its grace period. The `OTEL_BSP_*` variables and their defaults are the same.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context, attach, set_value
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from llmobserve.exporting import build_resource, build_span_exporters
from proxy.otlp import FastOTLPExporter, fast_exporter
from proxy.protocol import SERVICE_NAME
from semconv import (
    ERROR_TYPE,
    METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED,
    METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED_UNIT,
)

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_MILLIS = 5000
"""How long stopping the proxy waits for the last spans to export."""

# The exporters' own loggers: while we report an outage once, their per-batch and per-retry
# messages are kept as the cause instead of being logged again and again.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.common.http",
)


class _CauseKeeper(logging.Filter):
    """Keeps the last warning an exporter logged, for `SpanQueue`'s one warning."""

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        try:
            self.last = record.getMessage()[:500]
        except Exception:  # a malformed record must not break export
            self.last = str(record.msg)[:500]
        return False


_CAUSES = _CauseKeeper()


class SpanQueue(SpanProcessor):
    """A batching span processor with a hard bound on memory and on flush time."""

    def __init__(
        self,
        exporter: SpanExporter,
        meter_provider: MeterProvider | None = None,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay: float = 5.0,
    ) -> None:
        self._exporter = exporter
        # OTLP spans are encoded as they end, on the caller's thread (~14 µs each, as in a
        # batch): the queue then holds bytes, which the garbage collector never scans (queued
        # span objects filled its oldest generation while a slow backend kept the queue full),
        # and the export thread only joins bytes and sends them, so it no longer holds the GIL
        # the event loop needs for milliseconds at a time (docs/reliability.md).
        self._encode: Callable[[ReadableSpan], object] | None = None
        self._export_batch: Callable[[list[Any]], SpanExportResult] = exporter.export
        if isinstance(exporter, FastOTLPExporter):
            self._encode = exporter.encode_span
            self._export_batch = exporter.export_encoded
        self._max_queue = max_queue_size
        self._batch = min(max_export_batch_size, max_queue_size)
        self._delay = schedule_delay
        self._queue: deque[object] = deque()  # spans, or their encoding
        self._lock = threading.Condition()
        self._exporting = False
        self._flush_requests = 0
        self._stopping = False
        self._outage = False
        self.dropped = 0
        """Spans dropped since start (the metric's total, for tests and diagnostics)."""
        meter = (meter_provider or NoOpMeterProvider()).get_meter("llmobserve.proxy")
        self._dropped = meter.create_counter(
            METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED,
            unit=METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED_UNIT,
            description="Spans the proxy dropped instead of exporting, by error.type",
        )
        self._thread = threading.Thread(
            target=self._work, name="llmobserve-span-export", daemon=True
        )
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        if len(self._queue) >= self._max_queue:
            # Checked without the lock first, so that a span about to be dropped (the common
            # case while the backend is away) is not encoded for nothing.
            self._drop(1, "shutdown" if self._stopping else "queue_full")
            return
        item: object = span
        if self._encode is not None:
            try:
                item = self._encode(span)
            except Exception:  # neither encoder could: that span only is lost, and counted
                log.debug("could not encode a span", exc_info=True)
                self._drop(1, "export_failed")
                return
        with self._lock:
            reason = "shutdown" if self._stopping else None
            if reason is None and len(self._queue) >= self._max_queue:
                reason = "queue_full"
            if reason is None:
                self._queue.append(item)
                if len(self._queue) >= self._batch:
                    self._lock.notify_all()
                return
        self._drop(1, reason)

    def _drop(self, count: int, reason: str) -> None:
        try:
            with self._lock:  # from calls (queue full) and the exporter thread alike
                self.dropped += count
                first, self._outage = not self._outage, True
            self._dropped.add(count, {ERROR_TYPE: reason})
            if first:
                log.warning(
                    "llmobserve-proxy: span export is failing (%s; last exporter message: %s); "
                    "dropping spans and counting them in %s. Proxied calls are not affected. "
                    "No further warning until export recovers.",
                    reason,
                    _CAUSES.last or "none",
                    METRIC_LLMOBSERVE_PROXY_SPANS_DROPPED,
                )
        except Exception:  # counting must never break the call that ended the span
            log.debug("could not count dropped spans", exc_info=True)

    def _work(self) -> None:
        # The exporter's own HTTP calls must not be traced (as the SDK's processors do it):
        # this thread only exports, so its context says so for good.
        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        while True:
            with self._lock:
                self._lock.wait_for(
                    lambda: (
                        self._stopping
                        or self._flush_requests > 0
                        or len(self._queue) >= self._batch
                    ),
                    timeout=self._delay,
                )
                if not self._queue:
                    self._lock.notify_all()  # flushers waiting for an empty queue
                    if self._stopping:
                        return
                    if self._flush_requests:
                        self._lock.wait(self._delay)  # let them see it before looping
                    continue
                batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                self._exporting = True
            self._export(batch)
            with self._lock:
                self._exporting = False
                self._lock.notify_all()

    def _export(self, batch: list[object]) -> None:
        try:
            result = self._export_batch(batch)
        except Exception as exc:
            _CAUSES.last = f"{type(exc).__name__}: {exc}"[:500]
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                # Recovered only once the backlog is gone too: a backend that is up but too
                # slow keeps the queue full, and that is one outage, with one warning.
                recovered = self._outage and len(self._queue) < self._max_queue // 2
                if recovered:
                    self._outage = False
            if recovered:
                log.warning(
                    "llmobserve-proxy: span export recovered (%d spans dropped so far)",
                    self.dropped,
                )
            return
        self._drop(len(batch), "export_failed")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what is queued; False when that did not finish within the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._lock:
            if self._stopping:
                return not self._queue
            self._flush_requests += 1
            self._lock.notify_all()
            try:
                return self._lock.wait_for(
                    lambda: not self._queue and not self._exporting,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            finally:
                self._flush_requests -= 1

    def shutdown(self) -> None:
        if self._stopping:
            return
        self.force_flush(SHUTDOWN_FLUSH_MILLIS)
        with self._lock:
            self._stopping = True
            left = len(self._queue)
            self._queue.clear()
            self._lock.notify_all()
        if left:
            self._drop(left, "shutdown")
        self._thread.join(timeout=1.0)
        try:
            self._exporter.shutdown()
        except Exception:
            log.debug("span exporter shutdown failed", exc_info=True)


def tracer_provider_from_env(
    meter_provider: MeterProvider | None = None, environ: Mapping[str, str] | None = None
) -> TracerProvider:
    """The proxy's provider: exporters as `OTEL_*` say (default OTLP/HTTP to :4318), each
    behind a `SpanQueue` sized by `OTEL_BSP_*`."""
    env = os.environ if environ is None else environ
    for name in _EXPORTER_LOGGERS:
        exporter_log = logging.getLogger(name)
        if _CAUSES not in exporter_log.filters:
            exporter_log.addFilter(_CAUSES)
    provider = TracerProvider(resource=build_resource(None, SERVICE_NAME))
    for exporter in build_span_exporters(environ=env):
        provider.add_span_processor(
            SpanQueue(
                fast_exporter(exporter),  # the stock OTLP/HTTP exporter, faster encoding
                meter_provider,
                max_queue_size=_count(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
                max_export_batch_size=_count(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
                schedule_delay=_count(env, "OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000,
            )
        )
    return provider


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive integer; a bad value falls back to the default with a warning, as the
    OpenTelemetry SDK does for `OTEL_*` variables."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("%s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return value
