"""The DNS resolver of the proxy's upstream client (`proxy.upstream`): SSRF checks on every
answer, on aiohttp's resolver.

Kept apart from `proxy.security` so that module (used by the SDK too) does not need aiohttp.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from proxy.security import ForbiddenAddress, address_refusal, literal_address
from proxy.settings import IPNetwork


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops refused addresses from every answer (see module docstring).

    `exempt` hosts (the `LLMOBSERVE_UPSTREAM_OVERRIDES` origins) resolve unchecked.
    """

    def __init__(self, allowed: Iterable[IPNetwork], exempt: Iterable[str]) -> None:
        self._inner: AbstractResolver = DefaultResolver()
        self._allowed = tuple(allowed)
        self._exempt = frozenset(h.lower() for h in exempt)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower().rstrip(".") in self._exempt:
            return results
        kept, refusals = [], []
        for result in results:
            address = literal_address(result["host"])
            refusal = (
                "an unparsable address"
                if address is None
                else address_refusal(address, self._allowed)
            )
            if refusal is None:
                kept.append(result)
            else:
                refusals.append(refusal)
        if not kept:
            raise ForbiddenAddress(host, refusals[0] if refusals else "no address")
        return kept

    async def close(self) -> None:
        await self._inner.close()
