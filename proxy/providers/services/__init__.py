"""Paid APIs that are not LLMs: voice, images and video, vector databases, payments, messaging."""

from __future__ import annotations

from proxy.providers.base import EndpointDetector, Provider
from proxy.providers.result import WireFormat

PROVIDERS: tuple[Provider, ...] = (
    Provider("elevenlabs", ("api.elevenlabs.io",), "https://api.elevenlabs.io", "elevenlabs"),
)

DETECTORS: dict[str, EndpointDetector] = {}

WIRE_FORMATS: dict[str, WireFormat] = {}
