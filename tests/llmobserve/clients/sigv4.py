"""A fake AWS endpoint that checks SigV4 the way AWS does: it recomputes the signature with
botocore's own signer over the request it received (method, raw path, raw query, the headers
named in SignedHeaders, body), with the same credentials and the same X-Amz-Date."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import Received, Reply

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "fake-session-token"
REGION = "us-east-1"

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Verdict:
    valid: bool
    signed_headers: tuple[str, ...]
    service: str


def verify(request: Received) -> Verdict:
    """Recompute the signature of `request` as the real endpoint would."""
    match = _AUTHORIZATION.match(request.header("authorization") or "")
    if match is None:
        return Verdict(False, (), "")
    signed = tuple(match["signed"].split(";"))
    amz_date = request.header("x-amz-date") or ""
    url = f"https://{request.header('host')}{request.raw_path.decode('latin-1')}"
    if request.query:
        url += "?" + request.query.decode("latin-1")
    aws_request = AWSRequest(request.method, url, data=request.body)
    for name in signed:
        for value in request.all(name):
            aws_request.headers[name] = value
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(match["key"], SECRET_KEY, SESSION_TOKEN), match["service"], match["region"]
    )
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    valid = (
        match["key"] == ACCESS_KEY
        and match["date"] == amz_date[:8]
        and signer.signed_headers(signer.headers_to_sign(aws_request)) == match["signed"]
        and hmac.compare_digest(expected, match["signature"])
    )
    return Verdict(valid, signed, match["service"])


_INVALID = (
    403,
    {"content-type": "application/json", "x-amzn-errortype": "InvalidSignatureException"},
    b'{"message":"The request signature we calculated does not match the signature you provided."}',
)


@dataclass
class SigV4Endpoint:
    """A responder for `FakeUpstream`: 403 unless the signature verifies, else `respond`."""

    respond: Callable[[Received], Reply]
    verdicts: list[Verdict] = field(default_factory=list)

    def __call__(self, request: Received) -> Reply:
        verdict = verify(request)
        self.verdicts.append(verdict)
        return self.respond(request) if verdict.valid else _INVALID
