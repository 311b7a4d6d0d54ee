"""Paid APIs that are not LLMs: voice, images and video, vector databases, payments, messaging.

One module per provider family; this package merges their `PROVIDERS`, `DETECTORS` and
`WIRE_FORMATS` into the proxy's tables. Coverage, and what cannot be metered from the wire:
docs/providers.md.
"""

from __future__ import annotations

from proxy.providers.base import EndpointDetector, Provider
from proxy.providers.result import WireFormat
from proxy.providers.services import (
    aws_media,
    azure_speech,
    bedrock,
    commerce,
    media,
    vector,
    voice,
)
from proxy.providers.services._aws import match_regional_host

__all__ = ["DETECTORS", "PROVIDERS", "WIRE_FORMATS", "match_regional_host"]

PROVIDERS: tuple[Provider, ...] = (
    bedrock.PROVIDER,
    *aws_media.PROVIDERS,
    *voice.PROVIDERS,
    azure_speech.PROVIDER,
    *media.PROVIDERS,
    *vector.PROVIDERS,
    *commerce.PROVIDERS,
)

DETECTORS: dict[str, EndpointDetector] = {
    bedrock.PROVIDER.id: bedrock.detect,
    **aws_media.DETECTORS,
    **voice.DETECTORS,
    **azure_speech.DETECTORS,
    **media.DETECTORS,
    **vector.DETECTORS,
    **commerce.DETECTORS,
}

WIRE_FORMATS: dict[str, WireFormat] = {
    **bedrock.WIRE_FORMATS,
    **aws_media.WIRE_FORMATS,
    **voice.WIRE_FORMATS,
    **azure_speech.WIRE_FORMATS,
    **media.WIRE_FORMATS,
    **vector.WIRE_FORMATS,
    **commerce.WIRE_FORMATS,
}
