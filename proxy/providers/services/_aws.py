"""AWS endpoints: regional host patterns, the JSON-protocol operation header, error codes.

AWS hosts put the region in the middle (`bedrock-runtime.{region}.amazonaws.com`); each
provider lists one template per documented host form (commercial and GovCloud, FIPS, China:
https://docs.aws.amazon.com/general/latest/gr/rande.html,
https://docs.aws.amazon.com/general/latest/gr/bedrock.html,
https://docs.aws.amazon.com/general/latest/gr/transcribe.html), and `{region}` matches any
region-shaped label, regions opened later included (`proxy.providers.base.host_matches`).

JSON-protocol APIs (Transcribe, Rekognition: `awsJson1_1`) POST every operation to `/` and name
it in the `X-Amz-Target: <Service>.<Operation>` header
(https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).

Errors name their code in the `x-amzn-errortype` response header, else in the body's `code` or
`__type` member, possibly as `namespace#Code` and followed by `:<url>`
(https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from proxy.providers.base import RequestHeaders, host_matches
from proxy.providers.result import mapping, text
from semconv import GenAiProviderNameValues

BEDROCK: Final = GenAiProviderNameValues.AWS_BEDROCK
POLLY: Final = GenAiProviderNameValues.AWS_POLLY
TRANSCRIBE: Final = GenAiProviderNameValues.AWS_TRANSCRIBE
REKOGNITION: Final = GenAiProviderNameValues.AWS_REKOGNITION


def regional_hosts(prefix: str, *, fips: str | None = None) -> tuple[str, ...]:
    """`{prefix}.{region}.amazonaws.com`, its FIPS twin and its China form, as templates.

    `fips` is the FIPS host when it is not `{prefix}-fips.{region}.amazonaws.com`.
    """
    return (
        f"{prefix}.{{region}}.amazonaws.com",
        fips or f"{prefix}-fips.{{region}}.amazonaws.com",
        f"{prefix}.{{region}}.amazonaws.com.cn",
    )


HOSTS: Final = {
    BEDROCK: regional_hosts("bedrock-runtime"),
    POLLY: regional_hosts("polly"),
    # Transcribe's FIPS endpoints are `fips.transcribe.{region}.amazonaws.com`; it also has
    # dual-stack (IPv6) endpoints on `api.aws`.
    TRANSCRIBE: (
        *regional_hosts("transcribe", fips="fips.transcribe.{region}.amazonaws.com"),
        "transcribe.{region}.api.aws",
        "transcribe-fips.{region}.api.aws",
    ),
    REKOGNITION: regional_hosts("rekognition"),
}


def match_regional_host(host: str) -> str | None:
    """The provider id of an AWS regional host, any region.

    >>> match_regional_host("bedrock-runtime-fips.us-east-1.amazonaws.com")
    'aws.bedrock'
    """
    for provider_id, patterns in HOSTS.items():
        if any(host_matches(host, pattern) for pattern in patterns):
            return provider_id
    return None


def target_operation(headers: RequestHeaders, service: str) -> str | None:
    """`DetectLabels` from `X-Amz-Target: RekognitionService.DetectLabels`, else None."""
    value = headers.get("x-amz-target")
    if value is None:
        return None
    prefix, _, operation = value.partition(".")
    return operation if prefix == service and operation else None


def error_code(value: str | None) -> str | None:
    """`ThrottlingException` from `aws.protocols#ThrottlingException:http://internal...`."""
    if value is None:
        return None
    code = value.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return code or None


def header_error(headers: Mapping[str, str]) -> str | None:
    """The error code in `x-amzn-errortype`, the header every AWS protocol may send."""
    value = next((v for k, v in headers.items() if str(k).lower() == "x-amzn-errortype"), None)
    return error_code(value)


def body_error(document: object) -> str | None:
    """The error code of a JSON error body: `code` (restJson1), `__type` (awsJson), `Code`."""
    body = mapping(document) or {}
    for key in ("code", "__type", "Code"):
        found = error_code(text(body.get(key)))
        if found:
            return found
    return None


def stream_exception(exception_type: str | None) -> str:
    """The error code of an event-stream exception message, as its shape is named.

    `:exception-type` carries the union member (`throttlingException`), whose shape, and the
    code the same error has as an HTTP response (`x-amzn-errortype`), is capitalised
    (`ThrottlingException`): one `error.type` for both ways the error can arrive.
    """
    code = error_code(exception_type)
    return code[0].upper() + code[1:] if code else "exception"


class AwsErrors:
    """Mixin for AWS wire formats: `error.type` is the AWS error code, header first."""

    def error_from_headers(self, headers: Mapping[str, str]) -> str | None:
        return header_error(headers)

    def read_error(self, document: object) -> str | None:
        return body_error(document)
