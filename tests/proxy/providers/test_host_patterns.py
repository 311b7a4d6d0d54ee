"""Host templates (`{region}`, `{location}`): regional hosts match, look-alikes never do.

The templates decide which hosts the proxy forwards to (`proxy.routing`): a host that matches
is a known provider and is allowed, so every hostile shape below must be refused.
"""

from __future__ import annotations

import pytest

from proxy.providers.base import host_matches
from proxy.providers.catalog import PROVIDERS, provider_for_host
from proxy.providers.services import match_regional_host
from proxy.routing import RoutingError, resolve
from proxy.settings import Settings

BEDROCK_TEMPLATE = "bedrock-runtime.{region}.amazonaws.com"
VERTEX_TEMPLATE = "{location}-aiplatform.googleapis.com"


@pytest.mark.parametrize(
    ("host", "provider_id"),
    [
        ("bedrock-runtime.us-east-1.amazonaws.com", "aws.bedrock"),
        ("bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "aws.bedrock"),
        ("bedrock-runtime.ap-southeast-7.amazonaws.com", "aws.bedrock"),
        ("bedrock-runtime.cn-northwest-1.amazonaws.com.cn", "aws.bedrock"),
        ("bedrock-runtime.xx-future-12.amazonaws.com", "aws.bedrock"),  # a region opened later
        ("BEDROCK-RUNTIME.EU-WEST-3.AMAZONAWS.COM.", "aws.bedrock"),
        ("polly.eu-central-2.amazonaws.com", "aws.polly"),
        ("polly-fips.ca-central-1.amazonaws.com", "aws.polly"),
        ("transcribe.me-central-1.amazonaws.com", "aws.transcribe"),
        ("fips.transcribe.us-east-2.amazonaws.com", "aws.transcribe"),
        ("transcribe.us-west-2.api.aws", "aws.transcribe"),
        ("transcribe-fips.us-east-1.api.aws", "aws.transcribe"),
        ("rekognition.il-central-1.amazonaws.com", "aws.rekognition"),
        ("rekognition-fips.us-west-2.amazonaws.com", "aws.rekognition"),
        ("aiplatform.googleapis.com", "gcp.vertex_ai"),
        ("us-central1-aiplatform.googleapis.com", "gcp.vertex_ai"),
        ("europe-west12-aiplatform.googleapis.com", "gcp.vertex_ai"),
        ("northamerica-northeast2-aiplatform.googleapis.com", "gcp.vertex_ai"),
    ],
)
def test_provider_for_host_matches_regional_templates(host: str, provider_id: str) -> None:
    provider = provider_for_host(host)

    assert provider is not None and provider.id == provider_id


HOSTILE_AWS = [
    "bedrock-runtime.us-east-1.amazonaws.com.evil.com",  # suffix trick
    "bedrock-runtime.us-east-1.amazonaws.com.cn.evil.com",
    "x.bedrock-runtime.us-east-1.amazonaws.com",  # extra label in front
    "evilbedrock-runtime.us-east-1.amazonaws.com",
    "bedrock-runtime.evil.com.us-east-1.amazonaws.com",
    "bedrock-runtime..amazonaws.com",  # empty label
    "bedrock-runtime.amazonaws.com",  # no region label
    "bedrock-runtime.us.east.1.amazonaws.com",  # the region may not span labels
    "bedrock-runtime.us-east-1.evil.amazonaws.com",
    "bedrock-runtime.us-east-1.amazonaws.com:443",
    "bedrock-runtime.us-east-1.amazonaws.com\n",
    "bedrock-runtime.us-east-\u0661.amazonaws.com",  # an Arabic-Indic digit is not [0-9]
    "bedrock-runtime.useast1.amazonaws.com",
    "bedrock-runtime.us-east-.amazonaws.com",
    "bedrock-runtime.-east-1.amazonaws.com",
    "bedrock.us-east-1.amazonaws.com",  # the control plane is not metered
    "bedrock-runtime.us-east-1.amazonaws.co",
    "bedrock-runtime.us-east-1.amazonawsxcom",  # a dot in the template is not a wildcard
]
HOSTILE_VERTEX = [
    "us-central1-aiplatform.googleapis.com.evil.com",
    "evil.us-central1-aiplatform.googleapis.com",
    "us-central1.evil-aiplatform.googleapis.com",
    "-aiplatform.googleapis.com",
    "us-central-aiplatform.googleapis.com",
    "a.b-c1-aiplatform.googleapis.com",
    "us-central1-aiplatformXgoogleapis.com",
]


@pytest.mark.parametrize("host", HOSTILE_AWS)
def test_aws_template_refuses_look_alike_hosts(host: str) -> None:
    assert not host_matches(host, BEDROCK_TEMPLATE)
    assert match_regional_host(host) is None
    assert provider_for_host(host) is None


@pytest.mark.parametrize("host", HOSTILE_VERTEX)
def test_vertex_template_refuses_look_alike_hosts(host: str) -> None:
    assert not host_matches(host, VERTEX_TEMPLATE)
    assert provider_for_host(host) is None


def test_host_matches_ignores_case_and_a_final_dot_in_templates() -> None:
    assert host_matches("US-CENTRAL1-AIPLATFORM.googleapis.com.", VERTEX_TEMPLATE)
    assert host_matches("bedrock-runtime.us-east-1.amazonaws.com", BEDROCK_TEMPLATE.upper())


@pytest.mark.parametrize("pattern", ["{foo}.example.com", "{region.example.com", "{}.example.com"])
def test_host_matches_treats_unknown_placeholders_literally_so_nothing_matches(
    pattern: str,
) -> None:
    for host in ("us-east-1.example.com", "x.example.com", ".example.com", "example.com"):
        assert not host_matches(host, pattern)


def test_every_catalog_template_is_known_and_matches_its_own_example() -> None:
    examples = {"{region}": "us-east-1", "{location}": "us-central1"}
    templates = [(p, h) for p in PROVIDERS for h in p.hosts if "{" in h]
    assert len(templates) >= 15  # 4 AWS services x 3 forms, Transcribe dual-stack, Vertex
    for provider, template in templates:
        host = template
        for placeholder, example in examples.items():
            host = host.replace(placeholder, example)
        assert "{" not in host, f"{provider.id}: unknown placeholder in {template}"
        assert provider_for_host(host) == provider, template


def test_provider_for_host_cache_is_bounded() -> None:
    # Host names come from clients: an unbounded cache grows one made-up name at a time.
    assert provider_for_host.cache_info().maxsize is not None


# The SSRF allowlist (`LLMOBSERVE_ALLOWED_HOSTS`) takes the same templates.


def _resolved_host(host: str, settings: Settings) -> str:
    return resolve("/", "", f"https://{host}/v1/chat/completions", settings).host


def test_allowlist_accepts_a_template_for_region_named_hosts() -> None:
    settings = Settings(allowed_hosts=("llm.{region}.internal.example",))

    assert _resolved_host("llm.eu-west-1.internal.example", settings) == (
        "llm.eu-west-1.internal.example"
    )


@pytest.mark.parametrize(
    "host",
    [
        "llm.eu-west-1.internal.example.evil.com",
        "x.llm.eu-west-1.internal.example",
        "llm.evil.com.internal.example",
        "llm..internal.example",
        "llm.internal.example",
    ],
)
def test_allowlist_template_refuses_hostile_hosts_with_403(host: str) -> None:
    settings = Settings(allowed_hosts=("llm.{region}.internal.example",))

    with pytest.raises(RoutingError) as refused:
        resolve("/", "", f"https://{host}/v1/chat/completions", settings)

    assert refused.value.status == 403


@pytest.mark.parametrize("host", HOSTILE_AWS[:4] + HOSTILE_VERTEX[:3])
def test_look_alike_provider_hosts_are_refused_by_the_proxy(host: str) -> None:
    with pytest.raises(RoutingError) as refused:
        resolve("/", "", f"https://{host}/model/x/invoke", Settings())

    assert refused.value.status == 403
