"""Where `llmobserve report` reads spans from.

- Jaeger's HTTP query API, `GET {url}/api/traces?service=&start=&end=&limit=` (the JSON the
  Jaeger UI uses; times in microseconds; https://www.jaegertracing.io/docs/latest/apis/);
- a file holding that JSON (`{"data": [trace, ...]}`: the UI's "Download JSON");
- an OTLP JSON file: one `ExportTraceServiceRequest` (`{"resourceSpans": [...]}`), or one per
  line as the Collector's `file` exporter writes them. Per the OTLP/JSON encoding
  (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) ids are hex, 64-bit
  integers may be strings, and attribute values are `{"stringValue": ...}`, `{"intValue": ...}`,
  `{"doubleValue": ...}`, `{"boolValue": ...}`.

Everything becomes `_costtree.Records`; amounts stay floats until `_costtree.usd` turns their
shortest repr into a `Decimal`.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from llmobserve._costtree import Call, Records, SectionSpan, collect, record

_Found = Call | SectionSpan | None


class SourceError(Exception):
    """A source could not be read; the message says which and why."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, start_ns: int) -> bool:
        moment = start_ns / 1e9
        if self.start is not None and moment < self.start.timestamp():
            return False
        return self.end is None or moment <= self.end.timestamp()


def read_file(path: Path) -> Records:
    """Spans from a Jaeger JSON export or an OTLP JSON (or JSON Lines) file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: not JSON or JSON Lines ({exc})") from exc
    found: list[_Found] = []
    for document in documents:
        if not isinstance(document, dict) or not (
            "data" in document or "resourceSpans" in document
        ):
            raise SourceError(
                f"{path}: neither a Jaeger export ({{'data': [...]}}) nor OTLP JSON "
                "({'resourceSpans': [...]})"
            )
        found += _jaeger_spans(document) if "data" in document else _otlp_spans(document)
    return collect(found)


def query_jaeger(
    url: str, service: str, span: TimeRange, limit: int, timeout: float = 30.0
) -> tuple[Records, int]:
    """Every span of the traces Jaeger finds for `service` in the range; (records, traces)."""
    params: dict[str, str | int] = {"service": service, "limit": limit}
    if span.start is not None:
        params["start"] = int(span.start.timestamp() * 1_000_000)
    if span.end is not None:
        params["end"] = int(span.end.timestamp() * 1_000_000)
    address = f"{url.rstrip('/')}/api/traces?{urlencode(params)}"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:  # noqa: S310 - the user's Jaeger URL
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise SourceError(f"Jaeger answered {exc.code} for {address}: {detail}") from exc
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot query Jaeger at {url}: {exc}") from exc
    if not isinstance(document, dict):
        raise SourceError(f"Jaeger at {url} answered something other than a JSON object")
    traces = document.get("data") or []
    return collect(_jaeger_spans(document)), len(traces) if isinstance(traces, list) else 0


# -- Jaeger ---------------------------------------------------------------------------


def _jaeger_spans(document: Mapping[str, object]) -> Iterator[_Found]:
    traces = document.get("data")
    for trace in traces if isinstance(traces, list) else []:
        if not isinstance(trace, dict):
            continue
        processes = trace.get("processes")
        services = {
            pid: str(process.get("serviceName", ""))
            for pid, process in (processes.items() if isinstance(processes, dict) else [])
            if isinstance(process, dict)
        }
        for span in trace.get("spans") or []:
            if not isinstance(span, dict):
                continue
            tags = span.get("tags") or []
            attributes = {
                tag["key"]: tag.get("value")
                for tag in tags
                if isinstance(tag, dict) and isinstance(tag.get("key"), str)
            }
            start_us = span.get("startTime")
            yield record(
                str(span.get("operationName", "")),
                attributes,
                start_ns=int(start_us) * 1000 if isinstance(start_us, int | float) else 0,
                trace_id=str(span.get("traceID", "")),
                span_id=str(span.get("spanID", "")),
                service=services.get(str(span.get("processID", "")), ""),
            )


# -- OTLP JSON ------------------------------------------------------------------------


def _otlp_spans(document: Mapping[str, object]) -> Iterator[_Found]:
    for resource_spans in _list(document.get("resourceSpans")):
        resource = resource_spans.get("resource")
        resource_attributes = _otlp_attributes(
            resource.get("attributes") if isinstance(resource, dict) else None
        )
        service = str(resource_attributes.get("service.name", ""))
        for scope_spans in _list(resource_spans.get("scopeSpans")):
            for span in _list(scope_spans.get("spans")):
                yield record(
                    str(span.get("name", "")),
                    _otlp_attributes(span.get("attributes")),
                    start_ns=_int(span.get("startTimeUnixNano")),
                    trace_id=_hex_id(span.get("traceId")),
                    span_id=_hex_id(span.get("spanId")),
                    service=service,
                )


def _list(value: object) -> list[dict[str, object]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _otlp_attributes(value: object) -> dict[str, object]:
    attributes: dict[str, object] = {}
    for item in _list(value):
        key = item.get("key")
        if isinstance(key, str):
            attributes[key] = _otlp_value(item.get("value"))
    return attributes


def _otlp_value(value: object) -> object:
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "doubleValue":
        return float(inner) if isinstance(inner, int | float | str) else None
    if kind == "intValue":
        return _int(inner)
    return inner


def _int(value: object) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def _hex_id(value: object) -> str:
    """OTLP/JSON ids are hex; protobuf's generic JSON mapping writes base64 instead."""
    if not isinstance(value, str):
        return ""
    try:
        bytes.fromhex(value)
    except ValueError:
        try:
            return base64.b64decode(value, validate=True).hex()
        except (binascii.Error, ValueError):
            return value
    return value.lower()
