"""`llmobserve-proxy` refuses bad configuration at start-up, naming what is wrong."""

from __future__ import annotations

import subprocess
import sys


def run_cli(tmp_path, **env):
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "--port", "9"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_malformed_pricing_override_stops_start_up_with_file_line_and_field(tmp_path):
    override = tmp_path / "negotiated.yaml"
    override.write_text(
        "provider: openai\n"
        "currency: USD\n"
        "models:\n"
        "  - id: gpt-4o-mini\n"
        "    match: {exact: gpt-4o-mini}\n"
        "    prices:\n"
        "      - effective_from: 2024-07-18\n"
        '        input_mtok: "-1"\n'
        '        output_mtok: "0.60"\n'
    )
    result = run_cli(tmp_path, LLMOBSERVE_PRICING_FILE=str(override))
    assert result.returncode == 2
    assert f"{override}:8" in result.stderr
    assert "input_mtok" in result.stderr


def test_malformed_setting_stops_start_up_naming_the_variable(tmp_path):
    result = run_cli(tmp_path, LLMOBSERVE_UPSTREAM_TIMEOUT="soon")
    assert result.returncode == 2
    assert "LLMOBSERVE_UPSTREAM_TIMEOUT" in result.stderr
