"""The load run of `bench/reliability/load.py` at a size CI affords: 5,000 requests at c=256,
half streaming, through a real proxy process; no error, and one span per request."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.reliability.conftest import ROOT

pytestmark = pytest.mark.integration


def load_module():
    spec = importlib.util.spec_from_file_location(
        "reliability_load", ROOT / "bench/reliability/load.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_five_thousand_mixed_requests_lose_no_call_and_no_span():
    result = load_module().run(5000, 256, drain=30)
    assert result.errors == {}
    assert result.spans_received == result.requests == 5000
