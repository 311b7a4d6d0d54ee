"""The README as a newcomer meets it: its first command runs as written and prints what the
README shows, and its configuration reference names everything the code reads.

The README's Python example runs as written in tests/integration/test_jaeger_e2e.py.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import semconv
from proxy import protocol
from tests.llmobserve.test_demo import (
    clean_env,
    expected_models,
    expected_tree,
    parse_models,
    parse_tree,
)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


def _string_literals(pattern: str, *packages: str) -> set[str]:
    """String constants matching `pattern` anywhere in the packages' source."""
    found: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.update(re.findall(pattern, node.value))
    return found


def test_readme_starts_with_the_two_commands() -> None:
    assert README.startswith("# llmobserve\n\n```bash\n")
    commands = [line.split("#")[0].strip() for line in _code_blocks("bash")[0].splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_says_what_it_is_in_three_lines() -> None:
    paragraph = README.split("**What it is, in three lines.**", 1)[1].split("\n\n", 1)[0]
    assert len(paragraph.strip().splitlines()) <= 4  # the heading shares the first line
    assert README.index("**What it is, in three lines.**") < README.index("## ")


def _stamp(venv: Path) -> Path | None:
    """The file `make` checks to know `venv` is set up (see the Makefile's STAMP)."""
    plan = subprocess.run(
        ["make", "-n", "demo", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"^touch (\S+)$", plan, re.M)
    return Path(found.group(1)) if found else None


def _make_demo_command(tmp_path: Path) -> tuple[list[str], Path]:
    """`make demo`, as the README says. When the repository's .venv is not set up (a checkout
    that never ran `make`), the same Makefile runs with VENV pointing at this interpreter's
    environment instead of installing a new one from the package registry."""
    venv = ROOT / ".venv"
    if venv.is_dir() and _stamp(venv) is None:
        return ["make", "demo"], venv
    shim = tmp_path / "venv"
    shim.mkdir()
    (shim / "bin").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    stamp = _stamp(shim)
    assert stamp is not None, "the Makefile no longer installs into $(VENV)"
    stamp.touch()
    assert _stamp(shim) is None
    return ["make", "demo", f"VENV={shim}"], shim


@pytest.mark.integration
def test_readme_first_command_prints_the_cost_tree_the_readme_shows(tmp_path: Path) -> None:
    command, venv = _make_demo_command(tmp_path)
    has_boto3 = (
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import boto3"], capture_output=True, check=False
        ).returncode
        == 0
    )
    result = subprocess.run(
        command, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "SIMULATOR" in out
    assert parse_tree(out) == expected_tree(has_boto3)
    assert parse_models(out) == expected_models(has_boto3)
    if has_boto3:
        # The README's sample is this very output (column widths aside).
        shown = README.split("it happens, then the cost tree:\n\n```\n", 1)[1].split("```")[0]
        printed = {" ".join(line.split()) for line in out.splitlines()}
        for line in shown.splitlines():
            assert " ".join(line.split()) in printed, line


def test_readme_documents_every_llmobserve_variable() -> None:
    attribute_names = set(semconv.__all__)
    read = _string_literals(r"\bLLMOBSERVE_[A-Z0-9_]+\b", "llmobserve", "proxy", "pricing")
    variables = {name for name in read if name not in attribute_names}
    variables |= _string_literals(r"\bLLMOBSERVE_[A-Z0-9_]+_BIN\b", "tests")
    assert "LLMOBSERVE_PROXY_URL" in variables  # the scan works
    missing = sorted(v for v in variables if f"`{v}`" not in README)
    assert not missing, f"README's configuration reference lacks {missing}"


def test_readme_documents_every_otel_variable_we_read() -> None:
    # `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` in the README stands for both names.
    text = re.sub(r"\[TRACES_\](\w+)", r"\1 OTEL_EXPORTER_OTLP_TRACES_\1", README)
    variables = _string_literals(r"\bOTEL_[A-Z0-9_]+\b", "llmobserve", "proxy", "pricing")
    assert "OTEL_TRACES_EXPORTER" in variables
    missing = sorted(v for v in variables if v not in text)
    assert not missing, f"README's configuration reference lacks {missing}"


def test_readme_migration_names_every_header_the_proxy_accepts() -> None:
    section = README.split("## Migrating from raw `X-LLMObserve-*` headers", 1)[1]
    section = section.split("\n## ", 1)[0].lower()
    for header in (
        protocol.CUSTOMER_ID_HEADER,
        protocol.SECTION_HEADER,
        protocol.SECTION_PATH_HEADER,
        protocol.TARGET_URL_HEADER,
        protocol.PROXY_TOKEN_HEADER,
    ):
        assert f"`{header}" in section, header
    assert "baggage" in section


def test_readme_has_the_sections_a_newcomer_needs() -> None:
    for heading in (
        "## Three ways to run it",
        "## Reading the costs back",
        "## How it works",
        "## Configuration reference",
        "## Troubleshooting",
        "## Migrating from raw `X-LLMObserve-*` headers",
    ):
        assert f"\n{heading}\n" in README
    for trouble in ("not capturing", "$0.00", "Connection errors"):
        assert trouble in README.split("## Troubleshooting", 1)[1]
    for mode in ("**Proxy**", "**Auto-start**", "**Direct**"):
        assert mode in README
