"""The demo's workload: two customers' agents, three provider stacks, nested sections.

This is ordinary application code: the official `openai` and `anthropic` SDKs (on httpx2) and
`boto3`'s `bedrock-runtime` client, inside `section()`s, after `set_customer_id()`. Nothing
here knows about the proxy or the simulator; `Steps` only prints progress around each call and
names the simulator scenario a call should get (none when calling the real providers).

    acme-corp  agent:support_bot
                 tool:classify_ticket     openai     gpt-4o-mini
                 tool:search_policies     anthropic  claude-haiku-4-5   prompt cache hit
                 agent:reply_writer
                   tool:draft_reply       anthropic  claude-sonnet-4-5  streamed
                   tool:check_tone        bedrock    amazon.nova-lite-v1:0 (Converse)
    globex     agent:research_assistant
                 agent:planner            openai     gpt-4o             streamed
                 tool:web_search          openai     gpt-4o-mini        429 rate limit, then a
                                                                        retry (prompt cache hit)
                 tool:summarize           bedrock    claude-3-haiku (ConverseStream, streamed)
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from llmobserve import section, set_customer_id

CLASSIFY = "Classify the support ticket as billing, bug or question. Answer with one word."
TICKET = "I was charged twice for my March invoice. Please refund the duplicate payment."
POLICIES = (
    "You answer questions about Acme's customer policies. Refunds: duplicate charges are "
    "refunded in full to the original payment method within five business days. Invoices: "
    "corrected invoices are issued on request. Escalation: disputes above $500 go to billing."
)
DRAFT = "Write a two-sentence, friendly reply confirming the refund of the duplicate charge."
TONE = "Is this reply polite? Answer yes or no."
PLAN = "Plan three steps to compare the pricing of the top three vector databases."
RESEARCH = (
    "You are a research assistant. Prefer official pricing pages over blog posts, quote prices "
    "with their date, and say when a number could not be verified."
)
SEARCH = "Search the web for current managed vector database pricing pages."
SUMMARY = "Summarise the findings in three bullet points for a product manager."
BEDROCK_NOVA = "amazon.nova-lite-v1:0"
BEDROCK_CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


@dataclass(frozen=True)
class Clients:
    openai: Any
    anthropic: Any
    bedrock: Any | None
    """A boto3 `bedrock-runtime` client; None when boto3 or AWS credentials are missing."""
    bedrock_missing: str = ""
    """Why `bedrock` is None."""


class Steps(Protocol):
    def customer(self, name: str, what: str) -> None: ...

    def call(self, stack: str, model: str, run: Callable[[], object], note: str = "") -> None:
        """Run one provider call and report what it cost."""

    def skip(self, stack: str, model: str, why: str) -> None: ...

    def say(self, text: str) -> None: ...

    def scenario(self, name: str) -> dict[str, str]:
        """Headers asking the simulator for a scenario (`{}` against real providers)."""


def run(clients: Clients, steps: Steps) -> None:
    # Each customer's work runs in its own context, as two requests of a server would.
    contextvars.copy_context().run(support_bot, clients, steps)
    contextvars.copy_context().run(research_assistant, clients, steps)


def support_bot(clients: Clients, steps: Steps) -> None:
    set_customer_id("acme-corp")
    steps.customer("acme-corp", "a support bot answers a billing ticket")
    with section("agent:support_bot"):
        with section("tool:classify_ticket"):
            steps.call(
                "openai",
                "gpt-4o-mini",
                lambda: clients.openai.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[
                        {"role": "system", "content": CLASSIFY},
                        {"role": "user", "content": TICKET},
                    ],
                ),
            )
        with section("tool:search_policies"):
            # A long, stable system prompt marked for caching: read from the prompt cache.
            steps.call(
                "anthropic",
                "claude-haiku-4-5",
                lambda: clients.anthropic.messages.create(
                    model="claude-haiku-4-5",
                    max_tokens=200,
                    system=[
                        {"type": "text", "text": POLICIES, "cache_control": {"type": "ephemeral"}}
                    ],
                    messages=[{"role": "user", "content": TICKET}],
                    extra_headers=steps.scenario("cached"),
                ),
                "cached prompt",
            )
        with section("agent:reply_writer"):
            with section("tool:draft_reply"):
                steps.call("anthropic", "claude-sonnet-4-5", lambda: _draft(clients), "stream")
            with section("tool:check_tone"):
                _bedrock(clients, steps, BEDROCK_NOVA, lambda: _tone(clients), "")


def research_assistant(clients: Clients, steps: Steps) -> None:
    set_customer_id("globex")
    steps.customer("globex", "a research assistant plans, searches and summarises")
    with section("agent:research_assistant"):
        with section("agent:planner"):
            steps.call("openai", "gpt-4o", lambda: _plan(clients), "stream")
        with section("tool:web_search"):
            _search_with_retry(clients, steps)
        with section("tool:summarize"):
            _bedrock(clients, steps, BEDROCK_CLAUDE, lambda: _summarize(clients), "stream")


def _draft(clients: Clients) -> str:
    with clients.anthropic.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=300,
        messages=[{"role": "user", "content": f"{DRAFT}\n\nTicket: {TICKET}"}],
    ) as stream:
        return "".join(stream.text_stream)


def _plan(clients: Clients) -> str:
    chunks = clients.openai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": PLAN}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _search(clients: Clients, steps: Steps, scenario: str, retries: int) -> object:
    return clients.openai.with_options(max_retries=retries).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": RESEARCH}, {"role": "user", "content": SEARCH}],
        extra_headers=steps.scenario(scenario),
    )


def _search_with_retry(clients: Clients, steps: Steps) -> None:
    from openai import RateLimitError

    try:
        # No SDK retries, so the 429 is seen (and recorded) once.
        steps.call("openai", "gpt-4o-mini", lambda: _search(clients, steps, "rate_limit", 0))
    except RateLimitError as exc:
        wait = min(float(exc.response.headers.get("retry-after") or 1), 5.0)
        steps.say(f"rate limited: waiting {wait:g}s as retry-after says, then retrying")
        time.sleep(wait)
        steps.call(
            "openai",
            "gpt-4o-mini",
            lambda: _search(clients, steps, "cached", 2),
            "cached prompt",
        )


def _bedrock(
    clients: Clients, steps: Steps, model: str, call: Callable[[], object], note: str
) -> None:
    if clients.bedrock is None:
        steps.skip("bedrock", model, clients.bedrock_missing)
        return
    steps.call("bedrock", model, call, note)


def _tone(clients: Clients) -> object:
    assert clients.bedrock is not None
    return clients.bedrock.converse(
        modelId=BEDROCK_NOVA,
        messages=[{"role": "user", "content": [{"text": f"{TONE}\n\n{DRAFT}"}]}],
    )


def _summarize(clients: Clients) -> str:
    assert clients.bedrock is not None
    response = clients.bedrock.converse_stream(
        modelId=BEDROCK_CLAUDE,
        system=[{"text": "You write for busy product managers."}],
        messages=[{"role": "user", "content": [{"text": SUMMARY}]}],
    )
    parts = []
    for event in response["stream"]:
        parts.append(event.get("contentBlockDelta", {}).get("delta", {}).get("text", ""))
    return "".join(parts)
