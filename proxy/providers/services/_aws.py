"""AWS endpoints: regional host names, and the JSON-protocol operation header.

AWS hosts put the region in the middle (`bedrock-runtime.{region}.amazonaws.com`), which
`catalog.host_matches` (exact or `*.suffix`) cannot express. Until it takes patterns, each AWS
provider lists its host in every commercial, GovCloud and China region
(https://docs.aws.amazon.com/general/latest/gr/rande.html), FIPS variants included
(https://docs.aws.amazon.com/general/latest/gr/bedrock.html), and `match_regional_host` shows
the pattern match the catalog should do instead (it also knows regions added after this list).

JSON-protocol APIs (Transcribe, Rekognition: `awsJson1_1`) POST every operation to `/` and name
it in the `X-Amz-Target: <Service>.<Operation>` header
(https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

REGIONS: Final = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
)
CHINA_REGIONS: Final = ("cn-north-1", "cn-northwest-1")

BEDROCK: Final = "aws.bedrock"
POLLY: Final = "aws.polly"
TRANSCRIBE: Final = "aws.transcribe"
REKOGNITION: Final = "aws.rekognition"

_ENDPOINT_PREFIXES: Final = {
    "bedrock-runtime": BEDROCK,
    "polly": POLLY,
    "transcribe": TRANSCRIBE,
    "rekognition": REKOGNITION,
}
_REGIONAL_HOST = re.compile(
    r"(?P<service>[a-z-]+?)(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r"\.amazonaws\.com(?:\.cn)?"
)


def regional_hosts(prefix: str) -> tuple[str, ...]:
    """`{prefix}.{region}.amazonaws.com` and its FIPS twin in every known region."""
    hosts = [f"{prefix}{fips}.{r}.amazonaws.com" for r in REGIONS for fips in ("", "-fips")]
    hosts += [f"{prefix}.{r}.amazonaws.com.cn" for r in CHINA_REGIONS]
    return tuple(hosts)


def match_regional_host(host: str) -> str | None:
    """The provider id of an AWS regional host, any region (the match the catalog needs).

    >>> match_regional_host("bedrock-runtime-fips.us-east-1.amazonaws.com")
    'aws.bedrock'
    """
    found = _REGIONAL_HOST.fullmatch(host.lower().rstrip("."))
    return _ENDPOINT_PREFIXES.get(found.group("service")) if found else None


def target_operation(headers: Mapping[str, str] | None, service: str) -> str | None:
    """`DetectLabels` from `X-Amz-Target: RekognitionService.DetectLabels`, else None."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), None)
    if value is None:
        return None
    prefix, _, operation = value.strip().partition(".")
    return operation if prefix == service and operation else None
