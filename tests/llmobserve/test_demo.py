"""`llmobserve demo` prints a cost tree whose every amount is a hand-computed price.

The simulator's token rule (llmobserve/simulator/__init__.py): input = 10 + ceil(chars / 4)
per message and system prompt, output = the 7 words of the canned reply; `cached` adds 1024
cache reads (OpenAI: inside prompt_tokens; Anthropic: beside input_tokens, with 256 cache
writes). Prompt lengths are those of llmobserve/_demo_workload.py. Prices per 1M tokens from
pricing/data (registry) and the pinned genai-prices (Bedrock):

acme-corp
- classify_ticket, gpt-4o-mini: 10 + ceil(78/4) + ceil(78/4) = 50 in, 7 out;
  50 x 0.15 + 7 x 0.60 = 11.70 -> $0.00001170
- search_policies, claude-haiku-4-5, cached: 10 + 65 + 20 = 95 in + 1024 read + 256 written,
  7 out; 95 x 1 + 1024 x 0.10 + 256 x 1.25 + 7 x 5 = 552.40 -> $0.00055240
- draft_reply, claude-sonnet-4-5, stream: 10 + ceil(171/4) = 53 in, 7 out;
  53 x 3 + 7 x 15 = 264.00 -> $0.00026400
- check_tone, Bedrock amazon.nova-lite-v1:0: 10 + ceil(124/4) = 41 in, 7 out;
  41 x 0.06 + 7 x 0.24 = 4.14 -> $0.00000414
globex
- planner, gpt-4o, stream: 10 + ceil(74/4) = 29 in, 7 out; 29 x 2.50 + 7 x 10 = 142.50
  -> $0.00014250
- web_search, gpt-4o-mini: 429, no usage: unpriced (upstream_error), not $0
- web_search retry, gpt-4o-mini, cached: 10 + 38 + 17 = 65 + 1024 cached in, 7 out;
  65 x 0.15 + 1024 x 0.075 + 7 x 0.60 = 90.75 -> $0.00009075
- summarize, Bedrock claude-3-haiku, stream: 10 + 9 + 17 = 36 in, 7 out;
  36 x 0.25 + 7 x 1.25 = 17.75 -> $0.00001775

acme-corp = 832.24, globex = 251.00, total 1083.24 millionths of a dollar. Without boto3 the
two Bedrock calls are skipped: acme-corp 828.10, globex 233.25, total 1061.35.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

HAS_BOTO3 = importlib.util.find_spec("boto3") is not None

_TREE_WITH_BEDROCK = [
    ("customer acme-corp", "$0.00083224"),
    ("agent:support_bot", "$0.00083224"),
    ("tool:classify_ticket", "$0.00001170"),
    ("chat gpt-4o-mini", "$0.00001170"),
    ("tool:search_policies", "$0.00055240"),
    ("chat claude-haiku-4-5", "$0.00055240"),
    ("agent:reply_writer", "$0.00026814"),
    ("tool:draft_reply", "$0.00026400"),
    ("chat claude-sonnet-4-5", "$0.00026400"),
    ("tool:check_tone", "$0.00000414"),
    ("chat amazon.nova-lite-v1:0", "$0.00000414"),
    ("customer globex", "$0.00025100"),
    ("agent:research_assistant", "$0.00025100"),
    ("agent:planner", "$0.00014250"),
    ("chat gpt-4o", "$0.00014250"),
    ("tool:web_search", "$0.00009075"),
    ("chat gpt-4o-mini", "-"),  # the 429: unpriced, never $0
    ("chat gpt-4o-mini", "$0.00009075"),
    ("tool:summarize", "$0.00001775"),
    ("chat anthropic.claude-3-haiku-20240307-v1:0", "$0.00001775"),
    ("TOTAL", "$0.00108324"),
]
_TREE_WITHOUT_BEDROCK = [
    ("customer acme-corp", "$0.00082810"),
    ("agent:support_bot", "$0.00082810"),
    ("tool:classify_ticket", "$0.00001170"),
    ("chat gpt-4o-mini", "$0.00001170"),
    ("tool:search_policies", "$0.00055240"),
    ("chat claude-haiku-4-5", "$0.00055240"),
    ("agent:reply_writer", "$0.00026400"),
    ("tool:draft_reply", "$0.00026400"),
    ("chat claude-sonnet-4-5", "$0.00026400"),
    ("tool:check_tone", "$0.00000000"),
    ("customer globex", "$0.00023325"),
    ("agent:research_assistant", "$0.00023325"),
    ("agent:planner", "$0.00014250"),
    ("chat gpt-4o", "$0.00014250"),
    ("tool:web_search", "$0.00009075"),
    ("chat gpt-4o-mini", "-"),
    ("chat gpt-4o-mini", "$0.00009075"),
    ("tool:summarize", "$0.00000000"),
    ("TOTAL", "$0.00106135"),
]
_MODELS = {
    ("anthropic", "claude-haiku-4-5"): "$0.00055240",
    ("anthropic", "claude-sonnet-4-5"): "$0.00026400",
    ("openai", "gpt-4o-2024-08-06"): "$0.00014250",
    ("openai", "gpt-4o-mini-2024-07-18"): "$0.00010245",  # 11.70 + 90.75
    ("openai", "gpt-4o-mini"): "-",  # the 429 names no response model
}
_BEDROCK_MODELS = {
    ("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0"): "$0.00001775",
    ("aws.bedrock", "amazon.nova-lite-v1:0"): "$0.00000414",
}


def expected_tree(with_bedrock: bool) -> list[tuple[str, str]]:
    return _TREE_WITH_BEDROCK if with_bedrock else _TREE_WITHOUT_BEDROCK


def expected_models(with_bedrock: bool) -> dict[tuple[str, str], str]:
    return {**_MODELS, **(_BEDROCK_MODELS if with_bedrock else {})}


def _block(stdout: str, title: str) -> list[str]:
    """The lines of the block under a title line, up to the next blank line after a table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def _cost(line: str) -> str:
    """The amount on a row, or `-` for calls without a price."""
    found = re.search(r"\$[\d,.]+", line)
    return found.group(0) if found else "-"


def parse_tree(stdout: str) -> list[tuple[str, str]]:
    """(label, cost) of every node of the printed cost tree, in order."""
    rows = []
    for line in _block(stdout, "COST TREE")[1:]:  # skip the column header
        if line.startswith("─") or "↳" in line:
            continue
        label = re.sub(r"^[\s│├└─]+", "", line).split("  ")[0]
        rows.append((label, _cost(line)))
    return rows


def parse_models(stdout: str) -> dict[tuple[str, str], str]:
    rows = {}
    for line in _block(stdout, "BY MODEL")[1:]:
        provider, model, *_ = line.split()
        rows[(provider, model)] = _cost(line)
    return rows


def clean_env() -> dict[str, str]:
    """The caller's environment without telemetry or provider settings that would change it."""
    dropped = ("OTEL_", "LLMOBSERVE_", "OPENAI_", "ANTHROPIC_", "AWS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


@pytest.mark.integration
def test_demo_prints_the_hand_computed_cost_tree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert parse_tree(out) == expected_tree(HAS_BOTO3)
    assert parse_models(out) == expected_models(HAS_BOTO3)
    assert "SIMULATOR" in out
    # Progress: one line per call, as it happens, before the tree.
    progress = out[: out.index("COST TREE")]
    assert "customer acme-corp" in progress
    assert "customer globex" in progress
    assert "$0.00055240  1,375 in (1,024 cached), 7 out" in progress
    assert "upstream_error: HTTP 429 rate_limit_exceeded (not billed)" in progress
    assert "rate limited: waiting 1s" in progress
    # The unpriced call is listed with its status, never counted as $0.
    assert "1 call(s) without a price" in out
    if not HAS_BOTO3:
        assert "skipped: boto3 is not installed" in progress
    assert "Traceback" not in result.stderr


def test_demo_live_refuses_without_api_keys() -> None:
    env = {**clean_env(), "OPENAI_API_KEY": "sk-only-openai"}
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo", "--live"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "OPENAI_API_KEY" not in result.stderr  # that one is set
    assert result.stdout == ""  # nothing started, nothing called


def test_demo_help_describes_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--jaeger URL" in result.stdout
    assert "--live" in result.stdout


@pytest.mark.integration
def test_demo_without_boto3_skips_bedrock_and_says_so(tmp_path) -> None:
    blocker = tmp_path / "boto3"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('boto3 hidden by the test')\n")
    env = {**clean_env(), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "llmobserve.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert parse_tree(result.stdout) == expected_tree(with_bedrock=False)
    assert parse_models(result.stdout) == expected_models(with_bedrock=False)
    assert result.stdout.count("skipped: boto3 is not installed (pip install boto3)") == 2
