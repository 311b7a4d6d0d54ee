"""The README's first command prints a cost tree whose totals are the hand-computed prices."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.integration
def test_demo_prints_the_hand_computed_cost_tree():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMOBSERVE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = {}
    for line in result.stdout.splitlines():
        label = re.sub(r"^[\s│├└─]+", "", line).split("  ")[0]
        lines[label] = line.rstrip()
    # gpt-4o-mini: 12 x $0.15/M + 7 x $0.60/M = $0.00000600
    assert lines["chat gpt-4o-mini"].endswith("$0.00000600")
    # claude-3-haiku: 12 x $0.25/M + 7 x $1.25/M = $0.00001175
    assert lines["chat claude-3-haiku-20240307"].endswith("$0.00001175")
    assert lines["execute_tool openai_call"].endswith("$0.00000600")
    assert lines["invoke_agent multi_llm_agent"].endswith("$0.00001775")
    assert result.stdout.rstrip().splitlines()[-1].endswith("$0.00001775")
    assert "SIMULATOR" in result.stdout
