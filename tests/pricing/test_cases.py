"""Hand-computed costs from the providers' published price pages.

Each case names the page it was computed from (all checked 2026-11-27) and shows
the arithmetic; the registry must agree to 1e-9 USD, and exactly (Decimal ==)
wherever the result is a terminating decimal, which is every case but one.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pricing import Registry, TokenUsage, Usage, default_registry, price

OPENAI = "https://developers.openai.com/api/docs/pricing"
OPENAI_LEGACY = "https://platform.openai.com/docs/pricing"
ANTHROPIC = "https://platform.claude.com/docs/en/about-claude/pricing"
SONNET_5 = "https://platform.claude.com/docs/en/models/sonnet-5/overview"
GEMINI = "https://ai.google.dev/gemini-api/docs/pricing"
DEEPSEEK = "https://api-docs.deepseek.com/quick_start/pricing"
CHECKED = "2026-11-27"

# A Friday, inside no DeepSeek window and after every price change in the data.
AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
D = Decimal


@dataclass(frozen=True)
class Case:
    id: str
    provider: str
    model: str | None
    source: str
    expected: str
    tokens: TokenUsage | None = None
    units: dict[str, Decimal] = field(default_factory=dict)
    dimensions: dict[str, str] = field(default_factory=dict)
    at: datetime = AT
    exact: bool = True


def tok(inp: int, out: int, read: int = 0, write: int = 0, reasoning: int = 0) -> TokenUsage:
    return TokenUsage(inp, out, read, write, reasoning)


CASES = [
    # --- OpenAI, USD per 1M tokens ------------------------------------------------
    # 1000 * 0.15 + 500 * 0.60 = 150 + 300 = 450 / 1e6
    Case("openai-plain", "openai", "gpt-4o-mini", OPENAI, "0.00045", tok(1000, 500)),
    # (2000-1500) * 0.15 + 1500 * 0.075 + 300 * 0.60 = 75 + 112.5 + 180 = 367.5 / 1e6
    Case(
        "openai-cached",
        "openai",
        "gpt-4o-mini-2024-07-18",
        OPENAI,
        "0.0003675",
        tok(2000, 300, read=1500),
    ),
    # 6000 * 2 + 4000 * 0.50 + 1000 * 8 = 12000 + 2000 + 8000 = 22000 / 1e6
    Case(
        "openai-gpt-4.1-cached", "openai", "gpt-4.1", OPENAI, "0.022", tok(10_000, 1000, read=4000)
    ),
    # reasoning is inside output: 1000 * 1.10 + 2000 * 4.40 = 1100 + 8800 = 9900 / 1e6
    Case(
        "openai-reasoning", "openai", "o4-mini", OPENAI, "0.0099", tok(1000, 2000, reasoning=1500)
    ),
    # batch: 1000 * 0.625 + 500 * 5 = 625 + 2500 = 3125 / 1e6
    Case(
        "openai-batch",
        "openai",
        "gpt-5",
        OPENAI,
        "0.003125",
        tok(1000, 500),
        dimensions={"service_tier": "batch"},
    ),
    # flex: 2000 * 0.625 + 8000 * 0.0625 + 2000 * 5 = 1250 + 500 + 10000 = 11750 / 1e6
    Case(
        "openai-flex-cached",
        "openai",
        "gpt-5-2025-08-07",
        OPENAI,
        "0.01175",
        tok(10_000, 2000, read=8000),
        dimensions={"service_tier": "flex"},
    ),
    # priority: 1000 * 2.50 + 1000 * 20 = 2500 + 20000 = 22500 / 1e6
    Case(
        "openai-priority",
        "openai",
        "gpt-5",
        OPENAI,
        "0.0225",
        tok(1000, 1000),
        dimensions={"service_tier": "priority"},
    ),
    # "default" is the standard tier: 1000 * 1.25 + 1000 * 10 = 11250 / 1e6
    Case(
        "openai-default-tier",
        "openai",
        "gpt-5",
        OPENAI,
        "0.01125",
        tok(1000, 1000),
        dimensions={"service_tier": "default"},
    ),
    # dated price, before the 2025-06-10 cut: 1000 * 10 + 1000 * 40 = 50000 / 1e6
    Case(
        "openai-dated-before",
        "openai",
        "o3",
        OPENAI,
        "0.05",
        tok(1000, 1000),
        at=datetime(2025, 6, 9, 23, 59, tzinfo=UTC),
    ),
    # after the cut: 1000 * 2 + 1000 * 8 = 10000 / 1e6
    Case(
        "openai-dated-after",
        "openai",
        "o3-2025-04-16",
        OPENAI,
        "0.01",
        tok(1000, 1000),
        at=datetime(2025, 6, 10, tzinfo=UTC),
    ),
    # embeddings, input only: 1_000_000 * 0.02 / 1e6
    Case(
        "openai-embeddings", "openai", "text-embedding-3-small", OPENAI, "0.02", tok(1_000_000, 0)
    ),
    # embeddings at Batch: 2_000_000 * 0.065 / 1e6
    Case(
        "openai-embeddings-batch",
        "openai",
        "text-embedding-3-large",
        OPENAI,
        "0.13",
        tok(2_000_000, 0),
        dimensions={"service_tier": "batch"},
    ),
    # images: 2 * $0.08 (HD, 1024x1024)
    Case(
        "openai-images-hd",
        "openai",
        "dall-e-3",
        OPENAI_LEGACY,
        "0.16",
        units={"images": D(2)},
        dimensions={"size": "1024x1024", "quality": "hd"},
    ),
    # 1 * $0.08 (standard, 1792x1024)
    Case(
        "openai-images-wide",
        "openai",
        "dall-e-3",
        OPENAI_LEGACY,
        "0.08",
        units={"images": D(1)},
        dimensions={"size": "1792x1024", "quality": "standard"},
    ),
    # 3 * $0.018 (DALL-E 2, 512x512)
    Case(
        "openai-images-dalle2",
        "openai",
        "dall-e-2",
        OPENAI_LEGACY,
        "0.054",
        units={"images": D(3)},
        dimensions={"size": "512x512"},
    ),
    # TTS: 1200 characters * $15 / 1M = 0.018
    Case("openai-tts", "openai", "tts-1", OPENAI, "0.018", units={"characters": D(1200)}),
    # TTS HD: 1000 characters * $30 / 1M = 0.03
    Case("openai-tts-hd", "openai", "tts-1-hd", OPENAI, "0.03", units={"characters": D(1000)}),
    # STT: 90 seconds * $0.006 / 60 = 0.009
    Case("openai-stt", "openai", "whisper-1", OPENAI, "0.009", units={"seconds": D(90)}),
    # STT given in minutes: 1.5 minutes * $0.006 = 0.009
    Case("openai-stt-minutes", "openai", "whisper-1", OPENAI, "0.009", units={"minutes": D("1.5")}),
    # --- Anthropic, USD per 1M tokens (input = input + cache reads + cache writes) --
    # (10000-6000-3000) * 0.25 + 6000 * 0.03 + 3000 * 0.30 + 200 * 1.25
    #   = 250 + 180 + 900 + 250 = 1580 / 1e6
    Case(
        "anthropic-cache-5m",
        "anthropic",
        "claude-3-haiku-20240307",
        ANTHROPIC,
        "0.00158",
        tok(10_000, 200, read=6000, write=3000),
    ),
    # 1-hour writes: 6000 * 3 + 4000 * 6 + 500 * 15 = 18000 + 24000 + 7500 = 49500 / 1e6
    Case(
        "anthropic-cache-1h",
        "anthropic",
        "claude-sonnet-4-20250514",
        ANTHROPIC,
        "0.0495",
        tok(10_000, 500, write=4000),
        dimensions={"cache_write_ttl": "1h"},
    ),
    # both kinds: 5000 * 3 + 5000 * 0.30 + 6000 * 3.75 + 4000 * 6 + 1000 * 15
    #   = 15000 + 1500 + 22500 + 24000 + 15000 = 78000 / 1e6
    Case(
        "anthropic-cache-5m-and-1h",
        "anthropic",
        "claude-sonnet-4-0",
        ANTHROPIC,
        "0.078",
        tok(20_000, 1000, read=5000, write=10_000),
        dimensions={"cache_write_1h_tokens": "4000"},
    ),
    # thinking tokens are output: 2000 * 1 + 3000 * 5 = 17000 / 1e6
    Case(
        "anthropic-thinking",
        "anthropic",
        "claude-haiku-4-5-20251001",
        ANTHROPIC,
        "0.017",
        tok(2000, 3000, reasoning=2500),
    ),
    # long context, 250k > 200k so every token at the tier rates:
    # 100000 * 6 + 100000 * 0.60 + 30000 * 7.50 + 20000 * 12 + 1000 * 22.50
    #   = 600000 + 60000 + 225000 + 240000 + 22500 = 1147500 / 1e6
    Case(
        "anthropic-long-context",
        "anthropic",
        "claude-sonnet-4-5",
        ANTHROPIC,
        "1.1475",
        tok(250_000, 1000, read=100_000, write=50_000),
        dimensions={"cache_write_1h_tokens": "20000"},
        at=datetime(2026, 1, 15, tzinfo=UTC),
    ),
    # exactly 200k is not above the threshold: 200000 * 3 + 1000 * 15 = 615000 / 1e6
    Case(
        "anthropic-at-threshold",
        "anthropic",
        "claude-sonnet-4-5",
        ANTHROPIC,
        "0.615",
        tok(200_000, 1000),
        at=datetime(2026, 1, 15, tzinfo=UTC),
    ),
    # batch + long context: 300000 * 3 + 2000 * 11.25 = 900000 + 22500 = 922500 / 1e6
    Case(
        "anthropic-batch-long-context",
        "anthropic",
        "claude-sonnet-4-5",
        ANTHROPIC,
        "0.9225",
        tok(300_000, 2000),
        dimensions={"service_tier": "batch"},
        at=datetime(2026, 1, 15, tzinfo=UTC),
    ),
    # batch: 1000 * 2.50 + 1000 * 12.50 = 15000 / 1e6
    Case(
        "anthropic-batch",
        "anthropic",
        "claude-opus-4-5",
        ANTHROPIC,
        "0.015",
        tok(1000, 1000),
        dimensions={"service_tier": "batch"},
    ),
    # web search: 1000 * 5 + 500 * 25 = 17500 / 1e6 = 0.0175; 3 * $10 / 1000 = 0.03
    Case(
        "anthropic-web-search",
        "anthropic",
        "claude-opus-4-5-20251101",
        ANTHROPIC,
        "0.0475",
        tok(1000, 500),
        units={"web_search_requests": D(3), "web_fetch_requests": D(2)},
    ),
    # 2000 * 2 + 8000 * 0.20 + 500 * 10 = 4000 + 1600 + 5000 = 10600 / 1e6
    Case(
        "anthropic-sonnet-5-cached",
        "anthropic",
        "claude-sonnet-5",
        SONNET_5,
        "0.0106",
        tok(10_000, 500, read=8000),
    ),
    # --- Gemini ----------------------------------------------------------------------
    # 60000 * 1.25 + 40000 * 0.125 + 2000 * 10 = 75000 + 5000 + 20000 = 100000 / 1e6
    Case(
        "gemini-cached",
        "gcp.gemini",
        "gemini-2.5-pro",
        GEMINI,
        "0.1",
        tok(100_000, 2000, read=40_000),
    ),
    # long context (prompt > 200k): 250000 * 2.50 + 1000 * 15 = 640000 / 1e6
    Case("gemini-long-context", "gcp.gemini", "gemini-2.5-pro", GEMINI, "0.64", tok(250_000, 1000)),
    # batch: 1_000_000 * 0.15 + 100_000 * 1.25 = 150000 + 125000 = 275000 / 1e6
    Case(
        "gemini-batch",
        "gcp.gemini",
        "gemini-2.5-flash",
        GEMINI,
        "0.275",
        tok(1_000_000, 100_000),
        dimensions={"service_tier": "batch"},
    ),
    # --- DeepSeek: time of day --------------------------------------------------------
    # off-peak (Mon 2025-03-03 17:00 UTC): 1000 * 0.135 + 1000 * 0.55 = 685 / 1e6
    Case(
        "deepseek-off-peak",
        "deepseek",
        "deepseek-chat",
        DEEPSEEK,
        "0.000685",
        tok(1000, 1000),
        at=datetime(2025, 3, 3, 17, 0, tzinfo=UTC),
    ),
    # standard hours, cache hit: 4000 * 0.27 + 6000 * 0.07 + 1000 * 1.10
    #   = 1080 + 420 + 1100 = 2600 / 1e6
    Case(
        "deepseek-standard-cached",
        "deepseek",
        "deepseek-chat",
        DEEPSEEK,
        "0.0026",
        tok(10_000, 1000, read=6000),
        at=datetime(2025, 3, 3, 10, 0, tzinfo=UTC),
    ),
    # the window wraps midnight: 00:15 UTC is off-peak; reasoner is 75% off:
    # 1000 * 0.135 + 1000 * 0.55 = 685 / 1e6
    Case(
        "deepseek-off-peak-after-midnight",
        "deepseek",
        "deepseek-reasoner",
        DEEPSEEK,
        "0.000685",
        tok(1000, 1000),
        at=datetime(2025, 3, 4, 0, 15, tzinfo=UTC),
    ),
    # after the 2025-09-05 change, no window: 1M * 0.28 + 1M * 0.42 = 0.70
    Case(
        "deepseek-after-change",
        "deepseek",
        "deepseek-chat",
        DEEPSEEK,
        "0.70",
        tok(1_000_000, 1_000_000),
        at=datetime(2025, 10, 1, 17, 0, tzinfo=UTC),
    ),
    # peak (Wed 02:00 UTC): 1M * 1.32 + 1M * 3.96 = 5.28
    Case(
        "deepseek-peak",
        "deepseek",
        "deepseek-v4-pro",
        DEEPSEEK,
        "5.28",
        tok(1_000_000, 1_000_000),
        at=datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
    ),
    # same hour on a Saturday is off-peak: 1M * 0.66 + 1M * 1.98 = 2.64
    Case(
        "deepseek-weekend",
        "deepseek",
        "deepseek-v4-pro",
        DEEPSEEK,
        "2.64",
        tok(1_000_000, 1_000_000),
        at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
    ),
    # --- other LLM and embedding providers ------------------------------------------
    # 1M * 0.20 + 1M * 0.40 = 0.60
    Case(
        "ai21",
        "ai21",
        "jamba-mini",
        "https://www.ai21.com/pricing/",
        "0.60",
        tok(1_000_000, 1_000_000),
    ),
    # rerank: 3 search units * $2 / 1000 = 0.006
    Case(
        "cohere-rerank",
        "cohere",
        "rerank-v3.5",
        "https://cohere.com/pricing",
        "0.006",
        units={"search_units": D(3)},
    ),
    # --- voice ----------------------------------------------------------------------------
    # 1500 characters * $0.05 / 1000 = 0.075
    Case(
        "elevenlabs-tts",
        "elevenlabs",
        "eleven_flash_v2_5",
        "https://elevenlabs.io/pricing/api",
        "0.075",
        units={"characters": D(1500)},
    ),
    # 1000 characters * $0.10 / 1000 = 0.10
    Case(
        "elevenlabs-tts-multilingual",
        "elevenlabs",
        "eleven_multilingual_v2",
        "https://elevenlabs.io/pricing/api",
        "0.1",
        units={"characters": D(1000)},
    ),
    # 120 seconds * $0.0043 / 60 = 0.0086
    Case(
        "deepgram-stt",
        "deepgram",
        "nova-3",
        "https://deepgram.com/pricing",
        "0.0086",
        units={"seconds": D(120)},
    ),
    # 7 seconds * 0.0043 / 60 = 0.000501666... (non-terminating: within 1e-9)
    Case(
        "deepgram-stt-seconds",
        "deepgram",
        "nova-3-general",
        "https://deepgram.com/pricing",
        "0.0005016666666",
        units={"seconds": D(7)},
        exact=False,
    ),
    # 2000 characters * $0.030 / 1000 = 0.06
    Case(
        "deepgram-tts",
        "deepgram",
        "aura-2-thalia-en",
        "https://deepgram.com/pricing",
        "0.06",
        units={"characters": D(2000)},
    ),
    # one hour at $0.37/hour
    Case(
        "assemblyai-stt",
        "assemblyai",
        None,
        "https://www.assemblyai.com/pricing",
        "0.37",
        units={"seconds": D(3600)},
    ),
    # speech_model_used universal-3-pro: 1800 s * $0.21 / 3600 = 0.105
    Case(
        "assemblyai-universal-3-pro",
        "assemblyai",
        "universal-3-pro",
        "https://www.assemblyai.com/pricing",
        "0.105",
        units={"seconds": D(1800)},
    ),
    # legacy speech_model "universal" is Universal-2: 281 s * $0.15 / 3600 = 0.01170833...
    Case(
        "assemblyai-universal",
        "assemblyai",
        "universal",
        "https://www.assemblyai.com/pricing",
        "0.0117083333333",
        units={"seconds": D(281)},
        exact=False,
    ),
    # 1000 characters * $16 / 1M = 0.016
    Case(
        "polly-neural",
        "aws.polly",
        "neural",
        "https://aws.amazon.com/polly/pricing/",
        "0.016",
        units={"characters": D(1000)},
    ),
    # default engine standard: 5000 * $4 / 1M = 0.02
    Case(
        "polly-standard-default",
        "aws.polly",
        None,
        "https://aws.amazon.com/polly/pricing/",
        "0.02",
        units={"characters": D(5000)},
    ),
    # 4 s is below the 15 s minimum: 15 * 0.024 / 60 = 0.006
    Case(
        "transcribe-minimum",
        "aws.transcribe",
        None,
        "https://aws.amazon.com/transcribe/pricing/",
        "0.006",
        units={"seconds": D(4)},
    ),
    # 90 * 0.024 / 60 = 0.036
    Case(
        "transcribe",
        "aws.transcribe",
        "standard",
        "https://aws.amazon.com/transcribe/pricing/",
        "0.036",
        units={"seconds": D(90)},
    ),
    # 1M characters * $15 / 1M
    Case(
        "azure-tts",
        "azure.speech",
        "neural-tts",
        "https://azure.microsoft.com/en-us/pricing/details/cognitive-services/speech-services/",
        "15",
        units={"characters": D(1_000_000)},
    ),
    # --- images and video -------------------------------------------------------------
    # 10 images * $0.001
    Case(
        "rekognition",
        "aws.rekognition",
        None,
        "https://aws.amazon.com/rekognition/pricing/",
        "0.01",
        units={"images": D(10)},
    ),
    # 2 images * 3 credits * $0.01
    Case(
        "stability",
        "stability",
        "stable-image-core",
        "https://platform.stability.ai/pricing",
        "0.06",
        units={"images": D(2)},
    ),
    # 10 seconds * 5 credits * $0.01
    Case(
        "runway",
        "runway",
        "gen4_turbo",
        "https://docs.dev.runwayml.com/guides/pricing/",
        "0.5",
        units={"video_seconds": D(10)},
    ),
    # 12.5 s of A100 at $0.0014/s = 0.0175
    Case(
        "replicate",
        "replicate",
        "gpu-a100-large",
        "https://replicate.com/pricing",
        "0.0175",
        units={"seconds": D("12.5")},
    ),
    # 7.25 s on 2x A40 (Large) at $0.001450/s = 0.0105125
    Case(
        "replicate-a40-large-2x",
        "replicate",
        "gpu-a40-large-2x",
        "https://replicate.com/pricing",
        "0.0105125",
        units={"seconds": D("7.25")},
    ),
    # --- vector databases ---------------------------------------------------------------
    # 5 read units * $16 / 1M = 0.00008
    Case(
        "pinecone-read",
        "pinecone",
        None,
        "https://www.pinecone.io/pricing/",
        "0.00008",
        units={"read_units": D(5)},
    ),
    # 1000 WU * $4 / 1M + 10 RU * $16 / 1M = 0.004 + 0.00016
    Case(
        "pinecone-write",
        "pinecone",
        "serverless-standard",
        "https://www.pinecone.io/pricing/",
        "0.00416",
        units={"write_units": D(1000), "read_units": D(10)},
    ),
    # --- payments and messaging ---------------------------------------------------------
    # $100 * 2.9% + $0.30 = 2.90 + 0.30
    Case("stripe", "stripe", None, "https://stripe.com/pricing", "3.2", units={"amount": D(100)}),
    # $50 * 4.4% + $0.30 = 2.20 + 0.30
    Case(
        "stripe-international",
        "stripe",
        "card-international",
        "https://stripe.com/pricing",
        "2.5",
        units={"amount": D(50)},
    ),
    # $100 * 3.49% + $0.49 = 3.49 + 0.49
    Case(
        "paypal",
        "paypal",
        None,
        "https://www.paypal.com/us/business/paypal-business-fees",
        "3.98",
        units={"amount": D(100)},
    ),
    # 3 segments * $0.0083
    Case(
        "twilio-sms",
        "twilio",
        None,
        "https://www.twilio.com/en-us/sms/pricing/us",
        "0.0249",
        units={"segments": D(3)},
    ),
    # 1 MMS * $0.022
    Case(
        "twilio-mms",
        "twilio",
        "mms",
        "https://www.twilio.com/en-us/sms/pricing/us",
        "0.022",
        units={"messages": D(1)},
    ),
    # 2500 search requests * $0.50 / 1000
    Case(
        "algolia",
        "algolia",
        None,
        "https://www.algolia.com/pricing/",
        "1.25",
        units={"requests": D(2500)},
    ),
    # --- genai-prices fallback (token LLMs we do not list) ------------------------------
    # Groq: 1M * 0.59 + 1M * 0.79 = 1.38
    Case(
        "genai-groq",
        "groq",
        "llama-3.3-70b-versatile",
        "https://groq.com/pricing",
        "1.38",
        tok(1_000_000, 1_000_000),
    ),
    # Cerebras: 1M * 0.85 + 1M * 1.20 = 2.05
    Case(
        "genai-cerebras",
        "cerebras",
        "llama-3.3-70b",
        "https://www.cerebras.ai/pricing",
        "2.05",
        tok(1_000_000, 1_000_000),
    ),
    # Cohere Command A: 1M * 2.50 + 100k * 10 = 2.5 + 1 = 3.5
    Case(
        "genai-cohere",
        "cohere",
        "command-a-03-2025",
        "https://cohere.com/pricing",
        "3.5",
        tok(1_000_000, 100_000),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_price_matches_hand_computed_case(case: Case) -> None:
    usage = Usage(tokens=case.tokens, units=case.units, dimensions=case.dimensions, at=case.at)

    quote = price(case.provider, case.model, usage)

    assert quote.status == "priced", quote.reason
    assert quote.cost is not None
    expected = Decimal(case.expected)
    if case.exact:
        assert quote.cost.total == expected
    assert abs(quote.cost.total - expected) <= Decimal("1e-9")
    parts = (quote.cost.input, quote.cost.output, quote.cost.cache_read, quote.cost.cache_write)
    assert sum(parts, quote.cost.other) == quote.cost.total


def test_cases_cover_the_issue_checklist() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.source.startswith("https://") for c in CASES)
    assert CHECKED == "2026-11-27"


def test_price_uses_override_before_every_other_source(tmp_path: Path) -> None:
    override = tmp_path / "negotiated.yaml"
    override.write_text(
        textwrap.dedent(
            """\
            provider: openai
            models:
              - id: gpt-4o-mini
                match: {prefix: gpt-4o-mini}
                prices:
                  - {effective_from: 2025-01-01, input_mtok: "0.10", output_mtok: "0.40"}
            """
        ),
        encoding="utf-8",
    )
    registry = Registry.load(override=override)
    usage = Usage(tokens=tok(1000, 500), reported_cost=D("9.99"), at=AT)

    quote = price("openai", "gpt-4o-mini-2024-07-18", usage, registry)

    # negotiated: 1000 * 0.10 + 500 * 0.40 = 100 + 200 = 300 / 1e6 (the reported 9.99 loses)
    assert quote.cost is not None
    assert (quote.cost.total, quote.cost.source) == (D("0.0003"), "override")


def test_price_uses_provider_reported_cost_before_the_registry() -> None:
    # OpenRouter's usage.cost (https://openrouter.ai/docs/use-cases/usage-accounting)
    usage = Usage(tokens=tok(1000, 500), reported_cost=D("0.0123"), at=AT)

    quote = price("openrouter", "anthropic/claude-sonnet-4.5", usage)
    registry_model = price("openai", "gpt-4o-mini", usage)

    assert quote.cost is not None and registry_model.cost is not None
    assert (quote.cost.total, quote.cost.source, quote.cost.other) == (
        D("0.0123"),
        "provider",
        D("0.0123"),
    )
    assert (registry_model.cost.total, registry_model.cost.source) == (D("0.0123"), "provider")


def test_price_falls_back_to_genai_prices_with_its_version() -> None:
    quote = price("groq", "llama-3.3-70b-versatile", Usage(tokens=tok(1000, 1000), at=AT))

    assert quote.cost is not None
    assert quote.cost.source == "genai-prices@0.2.3"
    # 1000 * 0.59 + 1000 * 0.79 = 590 + 790
    assert (quote.cost.input, quote.cost.output) == (D("0.00059"), D("0.00079"))


def test_default_registry_is_the_same_object_for_every_call() -> None:
    assert default_registry() is default_registry()
