"""`section()`: a span around a piece of work, usable as `with`, `async with` and decorator."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from decimal import Decimal
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import baggage, context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from llmobserve._context import MAX_VALUE_CHARS, get_customer_id, get_section_path
from llmobserve._rollup import Frame, with_frame
from proxy.protocol import BAGGAGE_SECTION_PATH
from proxy.spans import SpanStarter, global_starter
from semconv import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_NAME,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION,
    LLMOBSERVE_SECTION_CALLS,
    LLMOBSERVE_SECTION_COST,
    LLMOBSERVE_SECTION_PATH,
    LLMOBSERVE_SECTION_UNPRICED_CALLS,
    GenAiOperationNameValues,
)

log = logging.getLogger("llmobserve")

P = ParamSpec("P")
R = TypeVar("R")

_VERSION = "0.1.0"


def _spans() -> SpanStarter:
    # The global provider's tracer, cached (`trace.get_tracer` builds a new one on every call),
    # with spans that skip the SDK's per-span locks and lists (see `proxy.spans`).
    return global_starter("llmobserve", _VERSION)


def span_shape(label: str) -> tuple[str, dict[str, AttributeValue]]:
    """Span name and GenAI attributes for a section label (OpenTelemetry GenAI agent spans)."""
    kind, sep, name = label.partition(":")
    if sep and name:
        if kind == "agent":
            return f"{GenAiOperationNameValues.INVOKE_AGENT} {name}", {
                GEN_AI_OPERATION_NAME: GenAiOperationNameValues.INVOKE_AGENT,
                GEN_AI_AGENT_NAME: name,
            }
        if kind == "tool":
            return f"{GenAiOperationNameValues.EXECUTE_TOOL} {name}", {
                GEN_AI_OPERATION_NAME: GenAiOperationNameValues.EXECUTE_TOOL,
                GEN_AI_TOOL_NAME: name,
            }
    return label, {}


class section:  # lowercase: used like a function, `with section("agent:x"):`
    """A named piece of work: an OpenTelemetry span, and the path calls inside it are billed to.

    `agent:X` opens `invoke_agent X`, `tool:X` opens `execute_tool X` (GenAI conventions);
    any other label opens a span of that name. Every section span carries `llmobserve.section`,
    `llmobserve.section.path` and, when set, `llmobserve.customer.id`.

    >>> with section("agent:researcher"):
    ...     with section("tool:web_search", query_kind="news"):
    ...         ...
    >>> @section("tool:summarise")
    ... async def summarise(text: str) -> str: ...
    """

    def __init__(self, name: str, **attributes: AttributeValue) -> None:
        self.name = str(name)[:MAX_VALUE_CHARS]
        self.attributes = attributes
        self._entered: list[tuple[Frame, object]] = []
        self._last: Frame | None = None

    @property
    def span(self) -> Span:
        """The span of the innermost active entry (a non-recording span outside)."""
        return self._entered[-1][0].span if self._entered else trace.INVALID_SPAN

    @property
    def cost(self) -> Decimal:
        """USD of the priced calls made inside (so far, or in the last entry once exited)."""
        frame = self._entered[-1][0] if self._entered else self._last
        return frame.cost if frame is not None else Decimal(0)

    @property
    def unpriced_calls(self) -> int:
        """Calls inside whose cost is unknown (unknown model, unreadable usage)."""
        frame = self._entered[-1][0] if self._entered else self._last
        return frame.unpriced if frame is not None else 0

    def _enter(self) -> None:
        parent_path = get_section_path()
        path = f"{parent_path}/{self.name}" if parent_path else self.name
        span_name, attributes = span_shape(self.name)
        attributes[LLMOBSERVE_SECTION] = self.name
        attributes[LLMOBSERVE_SECTION_PATH] = path
        customer = get_customer_id()
        if customer:
            attributes[LLMOBSERVE_CUSTOMER_ID] = customer
        attributes.update(self.attributes)
        span = _spans().start(span_name, context.get_current(), SpanKind.INTERNAL, attributes)
        frame = Frame(span)
        ctx = baggage.set_baggage(BAGGAGE_SECTION_PATH, path, trace.set_span_in_context(span))
        self._entered.append((frame, context.attach(with_frame(frame, ctx))))

    def _exit(self, exc: BaseException | None) -> None:
        if not self._entered:
            return
        frame, token = self._entered.pop()
        self._last = frame
        span = frame.span
        span.set_attributes(
            {
                LLMOBSERVE_SECTION_COST: float(frame.cost),
                LLMOBSERVE_SECTION_CALLS: frame.calls,
                LLMOBSERVE_SECTION_UNPRICED_CALLS: frame.unpriced,
            }
        )
        if exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()
        context.detach(cast(Any, token))

    def __enter__(self) -> section:
        try:
            self._enter()
        except Exception:  # telemetry never breaks the application
            log.exception("llmobserve: could not open section %r", self.name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._exit(exc)
        except Exception:
            log.exception("llmobserve: could not close section %r", self.name)

    async def __aenter__(self) -> section:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate a function or coroutine function: each call runs in a fresh section."""
        name, attributes = self.name, self.attributes
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with section(name, **attributes):
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with section(name, **attributes):
                return func(*args, **kwargs)

        return run
