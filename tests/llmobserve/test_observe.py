from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from opentelemetry import trace

import llmobserve
from llmobserve._config import Config


def test_exported_members_are_pinned():
    assert sorted(llmobserve.__all__) == [
        "__version__",
        "flush",
        "get_customer_id",
        "get_section_path",
        "observe",
        "section",
        "set_customer_id",
        "shutdown",
    ]


def test_config_arguments_win_over_environment():
    env = {"LLMOBSERVE_PROXY_URL": "http://env:9000", "LLMOBSERVE_COLLECTOR_URL": "http://env:4318"}
    config = Config.resolve("http://arg:4318", "http://arg:9000", None, False, env)
    assert (config.collector_url, config.proxy_url) == ("http://arg:4318", "http://arg:9000")
    config = Config.resolve(None, None, None, False, env)
    assert (config.collector_url, config.proxy_url) == ("http://env:4318", "http://env:9000")


def test_config_auto_start_defaults_the_proxy_url():
    assert Config.resolve(None, None, None, True, {}).proxy_url == "http://localhost:9000"
    assert Config.resolve(None, None, None, False, {}).proxy_url is None


def test_config_reads_sdk_disabled():
    assert Config.resolve(None, None, None, False, {"OTEL_SDK_DISABLED": "true"}).sdk_disabled


def test_observe_reuses_the_applications_tracer_provider():
    provider = trace.get_tracer_provider()
    llmobserve.observe()
    llmobserve.observe()  # harmless
    assert trace.get_tracer_provider() is provider


def run_app(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMOBSERVE_"))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


APP = """
    import llmobserve
    llmobserve.observe()
    with llmobserve.section("agent:exit_test"):
        pass
    print("app done")
"""


def test_observe_installs_a_provider_from_otel_variables_and_flushes_at_exit():
    result = run_app(
        APP,
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="billing-svc",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
    )
    assert "app done" in result.stdout
    span = json.loads(result.stdout[result.stdout.index("{") :])
    assert span["name"] == "invoke_agent exit_test"
    assert span["resource"]["attributes"]["service.name"] == "billing-svc"
    assert span["resource"]["attributes"]["deployment.environment"] == "test"


def test_observe_service_name_argument_wins():
    code = APP.replace("observe()", 'observe(service_name="from-arg")')
    result = run_app(code, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="from-env")
    assert '"service.name": "from-arg"' in result.stdout


def test_sdk_disabled_records_nothing_and_the_app_still_runs():
    result = run_app(APP, OTEL_TRACES_EXPORTER="console", OTEL_SDK_DISABLED="true")
    assert result.stdout.strip() == "app done"


def test_unreachable_collector_never_breaks_the_app():
    result = run_app(
        APP.replace("observe()", 'observe(collector_url="http://127.0.0.1:9")'),
        OTEL_BSP_EXPORT_TIMEOUT="500",
        OTEL_EXPORTER_OTLP_TIMEOUT="0.5",
    )
    assert "app done" in result.stdout


def test_auto_start_proxy_starts_one_and_stops_it_at_exit():
    from llmobserve._servers import free_port

    port = free_port()
    code = f"""
        import httpx
        import llmobserve
        llmobserve.observe(proxy_url="http://127.0.0.1:{port}", auto_start_proxy=True)
        print(httpx.get("http://127.0.0.1:{port}/health").json()["service"])
    """
    result = run_app(code, OTEL_TRACES_EXPORTER="none")
    assert result.stdout.strip() == "llmobserve-proxy"
    import httpx
    import pytest

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_sdk_imports_and_observes_without_the_proxy_extra():
    # `pip install llmobserve` (no [proxy] extra) has no aiohttp, starlette or uvicorn.
    code = """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("aiohttp", "starlette", "uvicorn"):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Block())
        import llmobserve
        llmobserve.observe()
        with llmobserve.section("agent:light"):
            pass
        print("app done")
    """
    result = run_app(code, OTEL_TRACES_EXPORTER="none")
    assert result.stdout.strip() == "app done"
