"""A short fuzzing run of every parser (a few seconds); `bench/reliability/fuzz.py` runs the
same targets on 100,000+ inputs (figures in docs/reliability.md)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability import fuzzing
from tests.reliability.fuzzing import HOSTILE_DOCUMENTS, TARGETS, WIRE_FORMAT_NAMES, to_json

CI = settings(
    max_examples=60,
    derandomize=True,  # the same inputs on every run: CI fails on code, not on luck
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_survives_generated_input(name):
    target, strategies = TARGETS[name]
    CI(given(**strategies)(target))()


@pytest.mark.parametrize("wire", WIRE_FORMAT_NAMES)
def test_every_wire_format_survives_hostile_documents(wire):
    for document in HOSTILE_DOCUMENTS:
        body = to_json(document)
        for status in (200, 400):
            for content_type in ("application/json", "text/event-stream"):
                fuzzing.wire_format_response(
                    wire,
                    status=status,
                    content_type=content_type,
                    encoding="",
                    body=body,
                    chunks=[len(body) // 2],
                    headers={},
                    model=None,
                )
        fuzzing.wire_format_request(wire, body, inject=True)
