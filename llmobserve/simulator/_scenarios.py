"""Scenarios: how a test asks the simulator to misbehave (header `x-simulator-scenario`)."""

from __future__ import annotations

import enum

from ._wire import Request

SCENARIO_HEADER = "x-simulator-scenario"
NO_GZIP_HEADER = "x-simulator-no-gzip"
SLOW_STREAM_DELAY_SECONDS = 0.05


class Scenario(enum.Enum):
    DEFAULT = "default"
    CACHED = "cached"
    REASONING = "reasoning"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    MALFORMED = "malformed"
    SLOW_STREAM = "slow_stream"


SCENARIOS: tuple[str, ...] = tuple(scenario.value for scenario in Scenario)


class UnknownScenarioError(ValueError):
    """The scenario header names no scenario; handlers answer 400 in the provider's shape."""

    def __init__(self, value: str) -> None:
        super().__init__(
            f"unknown simulator scenario {value!r} in header {SCENARIO_HEADER}; "
            f"expected one of: {', '.join(SCENARIOS)}"
        )


def scenario_of(request: Request) -> Scenario:
    """Read the scenario header; absent or empty means `Scenario.DEFAULT`."""
    value = (request.header(SCENARIO_HEADER) or "").strip().lower()
    if not value:
        return Scenario.DEFAULT
    try:
        return Scenario(value)
    except ValueError:
        raise UnknownScenarioError(value) from None
