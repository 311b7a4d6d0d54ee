"""`llmobserve report` on trace files made from spans the test suite's own proxy recorded.

The calls go through a real proxy to the simulator ("Hello": 12 in / 7 out):
gpt-4o-mini 12 x $0.15/M + 7 x $0.60/M = $0.000006 and claude-3-haiku 12 x $0.25/M +
7 x $1.25/M = $0.00001175, so every total below is a hand-computed price.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from llmobserve import cli
from llmobserve._costtree import usd
from llmobserve.simulator import SCENARIO_HEADER
from tests.conftest import ProxyFactory

HELLO = [{"role": "user", "content": "Hello"}]
EVIL = "<script>alert('x')</script>"


def _openai(proxy: str, customer: str, section: str, **extra: Any) -> None:
    headers = {
        "authorization": "Bearer sk-test",
        "x-llmobserve-customer-id": customer,
        "x-llmobserve-section-path": section,
        **extra.pop("headers", {}),
    }
    body = {"model": "gpt-4o-mini", "messages": HELLO, **extra}
    httpx.post(f"{proxy}/openai/v1/chat/completions", json=body, headers=headers)


def _anthropic(proxy: str, customer: str, section: str) -> None:
    headers = {
        "x-api-key": "sk-ant-test",
        "anthropic-version": "2023-06-01",
        "x-llmobserve-customer-id": customer,
        "x-llmobserve-section-path": section,
    }
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 64, "messages": HELLO}
    httpx.post(f"{proxy}/anthropic/v1/messages", json=body, headers=headers)


@pytest.fixture
def otlp_export(start_proxy: ProxyFactory) -> dict[str, Any]:
    """Six real calls through a real proxy, as an OTLP ExportTraceServiceRequest (JSON)."""
    proxy = start_proxy()
    _openai(proxy.url, "acme", "agent:support/tool:classify")
    _anthropic(proxy.url, "acme", "agent:support/tool:reply")
    _openai(proxy.url, "globex", "agent:research")
    _openai(proxy.url, EVIL, "agent:research")
    _openai(proxy.url, "globex", "agent:research", model="gpt-99")  # unknown_model
    _openai(proxy.url, "globex", "agent:research", headers={SCENARIO_HEADER: "malformed"})
    spans = proxy.spans(6)
    assert len(spans) == 6
    # The official encoder, then protobuf's JSON mapping: ids in base64, int64 as strings.
    return json_format.MessageToDict(encode_spans(spans))


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _row(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(label + " "))


def test_report_totals_by_customer_section_and_model_from_otlp_json(
    otlp_export: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(otlp_export))
    code, out, _ = _report(capsys, str(path))
    assert code == 0
    # 3 x $0.000006 + $0.00001175
    assert "TOTAL $0.00002975 USD over 6 calls, 2 without a price" in out
    assert _row(out, "acme").endswith("$0.00001775")
    assert re.search(r"^globex .*\$0\.00000600  \+2 unpriced$", out, re.M)
    assert _row(out, "agent:support/tool:reply").endswith("$0.00001175")
    assert _row(out, "agent:support/tool:classify").endswith("$0.00000600")
    assert re.search(r"^agent:research .*\$0\.00001200  \+2 unpriced$", out, re.M)
    assert re.search(r"^openai +gpt-4o-mini-2024-07-18 +3 .*\$0\.00001800$", out, re.M)
    assert re.search(r"^anthropic +claude-3-haiku-20240307 +1 .*\$0\.00001175$", out, re.M)
    assert "2 call(s) without a price, not in the totals above (2 may have been billed" in out
    assert "unknown_model: no price for openai model 'gpt-99'" in out
    assert "usage_unavailable: " in out


def test_report_reads_collector_json_lines_with_hex_ids_and_counts_each_span_once(
    otlp_export: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Collector's file exporter: one request per line, ids in hex as OTLP/JSON specifies.
    for resource in otlp_export["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    lines = tmp_path / "traces.jsonl"
    lines.write_text(json.dumps(otlp_export) + "\n" + json.dumps(otlp_export) + "\n")
    code, out, _ = _report(capsys, str(lines), str(lines))
    assert code == 0
    assert "TOTAL $0.00002975 USD over 6 calls" in out


def test_report_reads_a_jaeger_json_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    span = {
        "traceID": "0af7651916cd43dd8448eb211c80319c",
        "spanID": "b7ad6b7169203331",
        "operationName": "chat claude-3-haiku-20240307",
        "startTime": 1_750_000_000_000_000,
        "processID": "p1",
        "tags": [
            {"key": "gen_ai.provider.name", "type": "string", "value": "anthropic"},
            {"key": "gen_ai.response.model", "type": "string", "value": "claude-3-haiku-20240307"},
            {"key": "gen_ai.usage.input_tokens", "type": "int64", "value": 12},
            {"key": "gen_ai.usage.output_tokens", "type": "int64", "value": 7},
            {"key": "gen_ai.usage.cost", "type": "float64", "value": 1.175e-05},
            {"key": "llmobserve.cost.status", "type": "string", "value": "priced"},
            {"key": "llmobserve.customer.id", "type": "string", "value": "customer-123"},
            {"key": "llmobserve.section.path", "type": "string", "value": "agent:a/tool:b"},
        ],
    }
    document = {"data": [{"traceID": span["traceID"], "spans": [span], "processes": {}}]}
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(document))
    code, out, _ = _report(capsys, str(path))
    assert code == 0
    assert "TOTAL $0.00001175 USD over 1 calls" in out
    assert _row(out, "customer-123").endswith("$0.00001175")


def test_report_html_is_one_self_contained_file_with_charts(
    otlp_export: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "traces.json"
    source.write_text(json.dumps(otlp_export))
    html_path = tmp_path / "report.html"
    code, out, _ = _report(capsys, str(source), "--html", str(html_path))
    assert code == 0
    assert f"HTML report: {html_path}" in out
    html = html_path.read_text()
    assert html.startswith("<!doctype html>")
    for chart in ("Cost over time", "Top customers", "Top sections", "By model"):
        assert chart in html
    assert html.count("<svg") >= 2  # the time chart and the model ring
    assert "$0.00002975" in html
    # Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
    for needle in ("<script", "src=", "href=", "@import", "url(", "http://", "https://"):
        assert needle not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "unknown_model" in html and "usage_unavailable" in html


def test_report_csv_has_one_row_per_call_with_exact_costs(
    otlp_export: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "traces.json"
    source.write_text(json.dumps(otlp_export))
    csv_path = tmp_path / "calls.csv"
    code, _, _ = _report(capsys, str(source), "--csv", str(csv_path))
    assert code == 0
    with csv_path.open(newline="") as rows_file:
        rows = list(csv.DictReader(rows_file))
    assert len(rows) == 6
    assert sum(Decimal(r["cost_usd"]) for r in rows if r["cost_usd"]) == Decimal("0.00002975")
    statuses = sorted(r["cost_status"] for r in rows)
    assert statuses == ["priced"] * 4 + ["unknown_model", "usage_unavailable"]
    unknown = next(r for r in rows if r["cost_status"] == "unknown_model")
    assert unknown["cost_usd"] == ""
    assert "gpt-99" in unknown["cost_reason"]
    assert {r["customer"] for r in rows} == {"acme", "globex", EVIL}
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["trace_id"]) for r in rows)


def test_report_start_and_end_filter_the_calls_of_a_file(
    otlp_export: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "traces.json"
    source.write_text(json.dumps(otlp_export))
    code, out, _ = _report(capsys, str(source), "--start", "2000-01-01", "--end", "2000-01-02")
    assert code == 0
    assert "No provider call spans" in out


def test_report_needs_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _report(capsys)
    assert code == 2
    assert "give trace files or --jaeger URL" in err


def test_report_rejects_since_with_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _report(capsys, str(tmp_path), "--since", "1h", "--start", "2025-01-01")
    assert code == 2
    assert "--since or --start" in err


def test_report_explains_an_unreadable_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "not-traces.json"
    path.write_text('{"hello": "world"}')
    code, _, err = _report(capsys, str(path))
    assert code == 1
    assert "neither a Jaeger export" in err


def test_report_explains_an_unreachable_jaeger(capsys: pytest.CaptureFixture[str]) -> None:
    from llmobserve._servers import free_port

    code, _, err = _report(capsys, "--jaeger", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert "cannot query Jaeger" in err


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.175e-05, Decimal("0.00001175")),
        (6e-06, Decimal("0.000006")),
        (0.0005524, Decimal("0.0005524")),
        ("0.00009075", Decimal("0.00009075")),
        (0, Decimal(0)),
        (True, None),
        (None, None),
    ],
)
def test_usd_reads_the_shortest_float_repr(value: object, expected: Decimal | None) -> None:
    assert usd(value) == expected


def test_usd_sums_are_exact_where_float_sums_are_not() -> None:
    # The demo's seven priced calls, as the proxy's span attributes carry them.
    costs = [0.0005524, 0.000264, 4.14e-06, 1.17e-05, 0.0001425, 9.075e-05, 1.775e-05]
    assert sum(costs) == 0.0010832399999999999  # floats drift
    assert sum(usd(c) or Decimal(0) for c in costs) == Decimal("0.00108324")
