"""`llmobserve report` reading back, from a real Jaeger, traces this test suite produced.

1. The README example runs as written, through a real proxy process, into Jaeger; the report
   (a subprocess, as a user runs it) finds its two calls: 12 x $0.15/M + 7 x $0.60/M =
   $0.000006 (gpt-4o-mini) and 12 x $0.25/M + 7 x $1.25/M = $0.00001175 (claude-3-haiku).
2. `llmobserve demo --jaeger` sends its traces to the same Jaeger and prints their URLs; the
   report's totals equal the demo's (see test_demo.py for the hand computation).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import (
    Jaeger,
    offline_env,
    start_proxy_process,
    start_simulator_process,
)
from tests.integration.test_jaeger_e2e import readme_example, wait_for_trace
from tests.llmobserve.test_demo import HAS_BOTO3, clean_env, expected_tree

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def jaeger() -> Iterator[Jaeger]:
    server = Jaeger()
    yield server
    # In-memory storage, nothing to flush: a graceful stop can take Jaeger 15 s here.
    server.service.process.kill()
    server.service.stop()


def _llmobserve(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _row(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(label + " "))


def test_report_reads_the_readme_example_back_from_jaeger(jaeger: Jaeger, tmp_path: Path) -> None:
    simulator_url, simulator = start_simulator_process()
    proxy_url, proxy = start_proxy_process(simulator_url, jaeger.otlp_url)
    service = f"report-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(
            [sys.executable, "-c", readme_example(jaeger.otlp_url, proxy_url)],
            env={**clean_env(), **offline_env(), "OTEL_SERVICE_NAME": service},
            check=True,
            timeout=60,
        )
        wait_for_trace(jaeger, service, 8)
    finally:
        proxy.stop()
        simulator.stop()
    html, rows = tmp_path / "report.html", tmp_path / "calls.csv"
    out = _llmobserve(
        "report",
        "--jaeger",
        jaeger.query_url,
        "--service",
        service,
        "--since",
        "10m",
        "--html",
        str(html),
        "--csv",
        str(rows),
    )
    assert f"1 trace(s) of service {service} from Jaeger {jaeger.query_url}" in out
    assert "TOTAL $0.00001775 USD over 2 calls" in out
    assert _row(out, "customer-123").endswith("$0.00001775")
    assert _row(out, "agent:multi_llm_agent/tool:openai_call").endswith("$0.00000600")
    assert _row(out, "agent:multi_llm_agent/tool:anthropic_call").endswith("$0.00001175")
    assert re.search(r"^openai +gpt-4o-mini-2024-07-18 +1 .*\$0\.00000600$", out, re.M)
    assert re.search(r"^anthropic +claude-3-haiku-20240307 +1 .*\$0\.00001175$", out, re.M)
    assert "without a price" not in out

    page = html.read_text()
    assert "<svg" in page and "$0.00001775" in page and "customer-123" in page
    with rows.open(newline="") as handle:
        costs = [Decimal(r["cost_usd"]) for r in csv.DictReader(handle)]
    assert sorted(costs) == [Decimal("0.000006"), Decimal("0.00001175")]

    # The same traces saved as Jaeger JSON (what the UI's "Download JSON" gives) read alike.
    saved = tmp_path / "jaeger.json"
    query = f"{jaeger.query_url}/api/traces?service={service}&limit=20"
    with urllib.request.urlopen(query) as response:
        saved.write_text(json.dumps(json.loads(response.read())))
    from_file = _llmobserve("report", str(saved))
    assert from_file.split("\n", 1)[1] == out.split("\n", 1)[1].split("\nHTML report:")[0]


def test_demo_sends_its_traces_to_jaeger_and_the_report_agrees(jaeger: Jaeger) -> None:
    env = {**clean_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_url}
    demo = _llmobserve("demo", "--jaeger", jaeger.query_url, env=env)
    urls = re.findall(rf"{re.escape(jaeger.query_url)}/trace/[0-9a-f]{{32}}", demo)
    assert len(urls) == 2  # one trace per customer
    assert "not in Jaeger yet" not in demo
    total = expected_tree(HAS_BOTO3)[-1][1]
    out = _llmobserve(
        "report", "--jaeger", jaeger.query_url, "--service", "llmobserve-demo", "--since", "10m"
    )
    assert f"TOTAL {total} USD over {8 if HAS_BOTO3 else 6} calls, 1 without a price" in out
    tree = dict(expected_tree(HAS_BOTO3))
    assert _row(out, "acme-corp").endswith(tree["customer acme-corp"])
    assert "upstream_error: HTTP 429 rate_limit_exceeded" in out
