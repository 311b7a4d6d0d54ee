"""Provider catalog, endpoint detection and usage parsers.

Pure Python with no server dependencies: shared by the proxy and by the SDK.
"""

from proxy.providers.catalog import (
    PROVIDERS,
    Provider,
    host_matches,
    provider_for_host,
    provider_for_prefix,
)
from proxy.providers.endpoints import Endpoint, detect_endpoint
from proxy.providers.result import CallResult
from proxy.providers.usage import ResponseObserver

__all__ = [
    "PROVIDERS",
    "CallResult",
    "Endpoint",
    "Provider",
    "ResponseObserver",
    "detect_endpoint",
    "host_matches",
    "provider_for_host",
    "provider_for_prefix",
]
