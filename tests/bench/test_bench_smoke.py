"""`python -m bench --quick --smoke` runs every scenario end to end (seconds, no numbers checked:
the benchmark's results live in docs/benchmarks.md, never in assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_run_prints_every_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--smoke", "--json", str(tmp_path / "r.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for title in (
        "Latency",
        "Throughput",
        "Streaming",
        "RSS",
        "Spans",
        "Scale-out",
        "SDK",
        "Targets",
    ):
        assert f"### {title}" in result.stdout
    assert "| direct | bare | ours | ours/bare | ours/direct |" in result.stdout
    assert (tmp_path / "r.json").exists()
