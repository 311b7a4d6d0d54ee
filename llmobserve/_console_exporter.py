"""`OTEL_TRACES_EXPORTER=llmobserve`: print the cost tree when the process ends.

A span exporter like OpenTelemetry's `ConsoleSpanExporter`, but instead of every span it
prints one summary, on stderr, when the tracer provider shuts down (at exit): customer ->
section -> call with tokens and cost, the per-model table and the calls without a price.
Registered as the `llmobserve` entry point of `opentelemetry_traces_exporter`, so it works
with `observe()` and with `opentelemetry-instrument`, alone or next to another exporter:

    OTEL_TRACES_EXPORTER=llmobserve python app.py
    OTEL_TRACES_EXPORTER=otlp,llmobserve opentelemetry-instrument python app.py

In direct mode the calls' spans are in the process and every call is listed. In proxy mode
they are the proxy's; the tree then shows each section's rollup (`llmobserve.section.cost`),
which the proxy reports back to the SDK. Only calls and sections are kept, at most
`max_calls` calls (it is meant for scripts, jobs and development, not a server that runs for
weeks).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from llmobserve import _costtree, _report_text

MAX_CALLS = 100_000
_LIST_CALLS_UP_TO = 50


class CostTreeExporter(SpanExporter):
    """Collects calls and sections; prints their cost tree once, at shutdown.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(CostTreeExporter()))
    """

    def __init__(self, out: TextIO | None = None, max_calls: int = MAX_CALLS) -> None:
        self._out = out
        self._max_calls = max_calls
        self._calls: list[_costtree.Call] = []
        self._sections: list[_costtree.SectionSpan] = []
        self._dropped = 0
        self._lock = threading.Lock()
        self._done = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            found = _costtree.from_readable_spans(spans)
        except Exception:  # telemetry never breaks the host
            return SpanExportResult.FAILURE
        with self._lock:
            if self._done:
                return SpanExportResult.FAILURE
            room = max(0, self._max_calls - len(self._calls))
            self._dropped += max(0, len(found.calls) - room)
            self._calls += found.calls[:room]
            self._sections += found.sections[: max(0, self._max_calls - len(self._sections))]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            records = _costtree.collect([*self._calls, *self._sections])
        if not (records.calls or records.sections):
            return
        out = self._out or sys.stderr
        try:
            out.write(render(records, self._dropped) + "\n")
            out.flush()
        except (OSError, ValueError):  # stderr closed at exit: nothing to do
            return

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def render(records: _costtree.Records, dropped: int = 0) -> str:
    calls = records.calls
    show_calls = len(calls) <= _LIST_CALLS_UP_TO
    places = _report_text.places_for(records)
    what = _report_text.plural(len(calls), "call") if calls else "calls priced by the proxy"
    lines = [f"\nllmobserve: cost of this run ({what})\n"]
    lines.append(_report_text.render_tree(records, show_calls=show_calls, places=places))
    if calls:
        lines += ["", _report_text.render_by_model(calls, places)]
    unpriced = _report_text.render_unpriced(calls)
    if unpriced:
        lines += ["", unpriced]
    if dropped:
        lines.append(f"\n({dropped} more calls were not kept: the limit is {MAX_CALLS})")
    return "\n".join(lines)
