from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import llmobserve
from llmobserve import get_customer_id, section, set_customer_id
from semconv import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_NAME,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION,
    LLMOBSERVE_SECTION_PATH,
)


def by_name(spans):
    return {s.name: s for s in spans.get_finished_spans()}


def test_section_agent_label_opens_invoke_agent_span(spans):
    with section("agent:planner"):
        pass
    span = by_name(spans)["invoke_agent planner"]
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert span.attributes[GEN_AI_AGENT_NAME] == "planner"
    assert span.attributes[LLMOBSERVE_SECTION] == "agent:planner"
    assert span.attributes[LLMOBSERVE_SECTION_PATH] == "agent:planner"


def test_section_tool_label_opens_execute_tool_span_with_path(spans):
    with section("agent:planner"), section("tool:search"), section("rank results", top_k=3):
        pass
    named = by_name(spans)
    tool = named["execute_tool search"]
    assert tool.attributes[GEN_AI_TOOL_NAME] == "search"
    assert tool.attributes[LLMOBSERVE_SECTION_PATH] == "agent:planner/tool:search"
    plain = named["rank results"]
    assert GEN_AI_OPERATION_NAME not in plain.attributes
    assert plain.attributes["top_k"] == 3
    assert plain.attributes[LLMOBSERVE_SECTION_PATH] == "agent:planner/tool:search/rank results"
    assert plain.parent.span_id == tool.context.span_id
    assert tool.parent.span_id == named["invoke_agent planner"].context.span_id


def test_section_decorates_sync_and_async_functions(spans):
    @section("tool:double")
    def double(x: int) -> int:
        return 2 * x

    @section("agent:async_worker")
    async def work() -> int:
        async with section("tool:inner"):
            return double(21)

    assert asyncio.run(work()) == 42
    assert double(1) == 2
    named = [s.name for s in spans.get_finished_spans()]
    assert named.count("execute_tool double") == 2
    inner = by_name(spans)["execute_tool inner"]
    assert inner.attributes[LLMOBSERVE_SECTION_PATH] == "agent:async_worker/tool:inner"


def test_section_records_exception_and_reraises(spans):
    with pytest.raises(ValueError, match="boom"), section("tool:fragile"):
        raise ValueError("boom")
    span = by_name(spans)["execute_tool fragile"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"


def test_section_restores_context_on_exit(spans):
    outer = trace.get_current_span()
    with section("agent:x"):
        assert trace.get_current_span() is not outer
    assert trace.get_current_span() is outer
    assert llmobserve.get_section_path() is None


def test_customer_id_is_set_on_sections_below_it(spans):
    def run() -> None:
        set_customer_id("customer-123")
        with section("agent:billing"):
            pass

    # In a copy of the context, so the id does not leak into other tests.
    import contextvars

    contextvars.copy_context().run(run)
    assert (
        by_name(spans)["invoke_agent billing"].attributes[LLMOBSERVE_CUSTOMER_ID] == "customer-123"
    )
    assert get_customer_id() is None


def test_customer_id_reaches_asyncio_tasks_but_not_the_parent(spans):
    async def child() -> str | None:
        return get_customer_id()

    async def tenant(name: str) -> tuple[str | None, str | None]:
        set_customer_id(name)
        return await asyncio.create_task(child()), get_customer_id()

    async def main() -> list[tuple[str | None, str | None]]:
        results = await asyncio.gather(tenant("a"), tenant("b"))
        assert get_customer_id() is None
        return results

    assert asyncio.run(main()) == [("a", "a"), ("b", "b")]


def test_customer_id_and_section_reach_threads_after_observe(spans):
    llmobserve.observe()
    seen: list[tuple[str | None, str | None]] = []

    def run() -> None:
        set_customer_id("customer-t")
        with section("agent:threads"):
            worker = threading.Thread(
                target=lambda: seen.append((get_customer_id(), llmobserve.get_section_path()))
            )
            worker.start()
            worker.join()

    import contextvars

    contextvars.copy_context().run(run)
    assert seen == [("customer-t", "agent:threads")]
