"""``llmobserve pricing show|cost|check``, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "LLMOBSERVE_PRICING_FILE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "pricing", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def test_cli_show_prints_entry_rates_and_source() -> None:
    result = _run("show", "openai", "gpt-4o-mini-2024-07-18")

    assert result.returncode == 0, result.stderr
    assert "openai gpt-4o-mini-2024-07-18 -> gpt-4o-mini (registry)" in result.stdout
    assert "input 0.15, cache read 0.075, output 0.60" in result.stdout
    assert "https://developers.openai.com/api/docs/pricing (checked 2026-11-27)" in result.stdout


def test_cli_show_names_genai_prices_for_fallback_models() -> None:
    result = _run("show", "groq", "llama-3.3-70b-versatile")

    assert result.returncode == 0, result.stderr
    assert "(genai-prices@0.2.3)" in result.stdout


def test_cli_show_fails_for_unknown_model() -> None:
    result = _run("show", "openai", "gpt-99")

    assert result.returncode == 1
    assert "no price for openai model 'gpt-99'" in result.stderr


def test_cli_cost_json_has_decimal_total_breakdown_and_source() -> None:
    result = _run(
        "cost",
        "anthropic",
        "claude-3-haiku-20240307",
        "--input-tokens",
        "10000",
        "--output-tokens",
        "200",
        "--cache-read-tokens",
        "6000",
        "--cache-write-tokens",
        "3000",
        "--at",
        "2026-11-27T12:00:00Z",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    # 1000 * 0.25 + 6000 * 0.03 + 3000 * 0.30 + 200 * 1.25 = 1580 / 1e6
    assert answer["total_usd"] == "0.00158"
    assert answer["source"] == "registry"
    assert answer["breakdown"] == {
        "input": "0.00025",
        "output": "0.00025",
        "cache_read": "0.00018",
        "cache_write": "0.0009",
        "other": "0",
        "units": {},
    }


def test_cli_cost_prints_units_and_default_models() -> None:
    result = _run("cost", "stripe", "-", "--unit", "amount=100")

    assert result.returncode == 0, result.stderr
    assert "stripe (default): 3.2 USD (source registry, entry card)" in result.stdout


def test_cli_cost_reports_unpriced_calls_with_exit_1() -> None:
    unknown = _run("cost", "openai", "gpt-99", "--input-tokens", "1", "--json")
    invalid = _run("cost", "openai", "gpt-4o-mini", "--input-tokens", "-5")

    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["status"] == "unknown_model"
    assert invalid.returncode == 1
    assert "invalid_usage: negative token count" in invalid.stdout


def test_cli_cost_rejects_a_naive_time() -> None:
    result = _run("cost", "openai", "gpt-4o-mini", "--input-tokens", "1", "--at", "2026-01-01")

    assert result.returncode == 2
    assert "needs a time zone" in result.stderr


def test_cli_cost_uses_the_override_file(tmp_path: Path) -> None:
    override = tmp_path / "o.yaml"
    override.write_text(
        textwrap.dedent(
            """\
            provider: openai
            models:
              - id: gpt-4o-mini
                match: {prefix: gpt-4o-mini}
                prices: [{effective_from: 2024-01-01, input_mtok: "0.1", output_mtok: "0.4"}]
            """
        ),
        encoding="utf-8",
    )

    result = _run(
        "cost",
        "openai",
        "gpt-4o-mini",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "500",
        "--json",
        env={"LLMOBSERVE_PRICING_FILE": str(override)},
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_usd"] == "0.0003"
    assert json.loads(result.stdout)["source"] == "override"


def _jaeger(tmp_path: Path) -> Path:
    def span(provider: str, model: str, status: str) -> dict[str, object]:
        return {
            "tags": [
                {"key": "gen_ai.provider.name", "type": "string", "value": provider},
                {"key": "gen_ai.request.model", "type": "string", "value": model},
                {"key": "llmobserve.cost.status", "type": "string", "value": status},
            ]
        }

    document = {
        "data": [
            {
                "spans": [
                    span("openai", "gpt-99", "unknown_model"),
                    span("openai", "gpt-99", "unknown_model"),
                    span("groq", "llama-3.3-70b-versatile", "unknown_model"),
                    span("openai", "gpt-4o-mini", "priced"),
                    {"tags": [{"key": "http.method", "value": "GET"}]},
                ]
            }
        ]
    }
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _otlp(tmp_path: Path) -> Path:
    attributes = [
        {"key": "gen_ai.provider.name", "value": {"stringValue": "anthropic"}},
        {"key": "gen_ai.response.model", "value": {"stringValue": "claude-next"}},
        {"key": "llmobserve.cost.status", "value": {"stringValue": "unknown_model"}},
    ]
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": attributes}]}]}]}
    path = tmp_path / "otlp.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_cli_check_lists_unpriced_models_from_jaeger_and_otlp(tmp_path: Path) -> None:
    result = _run("check", str(_jaeger(tmp_path)), str(_otlp(tmp_path)))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "price data: valid"
    assert "unpriced: anthropic 'claude-next' in 1 span(s): still unpriced" in lines
    assert "unpriced: openai 'gpt-99' in 2 span(s): still unpriced" in lines
    assert (
        "unpriced: groq 'llama-3.3-70b-versatile' in 1 span(s): "
        "priced now by genai-prices@0.2.3 (llama-3.3-70b-versatile)"
    ) in lines


def test_cli_check_passes_when_everything_is_priced(tmp_path: Path) -> None:
    document = {"data": [{"spans": [{"tags": [{"key": "http.method", "value": "GET"}]}]}]}
    path = tmp_path / "clean.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    result = _run("check", str(path))

    assert result.returncode == 0, result.stdout
    assert "no unpriced model calls found" in result.stdout


@pytest.mark.parametrize("where", ["data-dir", "override"])
def test_cli_check_reports_data_files_failing_validation(tmp_path: Path, where: str) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    bad = directory / "acme.yaml"
    bad.write_text("provider: acme\ncurrency: usd\nmodels: []\n", encoding="utf-8")

    if where == "data-dir":
        result = _run("check", "--data-dir", str(directory))
    else:
        result = _run("check", env={"LLMOBSERVE_PRICING_FILE": str(bad)})

    assert result.returncode == 1
    assert "acme.yaml:3: models: expected a non-empty list" in result.stdout


def test_cli_demo_command_is_still_there() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
    assert "SIMULATOR" in result.stdout
