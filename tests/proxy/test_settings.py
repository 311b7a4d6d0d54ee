"""Settings.from_env: every LLMOBSERVE_* variable, its default, and refusal of bad values."""

from __future__ import annotations

import pytest

from proxy.settings import Settings, SettingsError


def test_settings_from_env_uses_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.allowed_hosts == ()
    assert settings.upstream_overrides == {}
    assert settings.upstream_timeout == 600.0
    assert settings.connect_timeout == 10.0
    assert settings.max_request_bytes == 32 * 1024 * 1024
    assert settings.max_parse_bytes == 16 * 1024 * 1024
    assert settings.inject_stream_usage is True


def test_settings_from_env_reads_os_environ_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMOBSERVE_CONNECT_TIMEOUT", "2.5")

    assert Settings.from_env().connect_timeout == 2.5


def test_settings_from_env_treats_blank_values_as_unset() -> None:
    blank = {
        name: "  "
        for name in (
            "LLMOBSERVE_ALLOWED_HOSTS",
            "LLMOBSERVE_UPSTREAM_OVERRIDES",
            "LLMOBSERVE_UPSTREAM_TIMEOUT",
            "LLMOBSERVE_CONNECT_TIMEOUT",
            "LLMOBSERVE_MAX_REQUEST_BYTES",
            "LLMOBSERVE_MAX_PARSE_BYTES",
            "LLMOBSERVE_INJECT_STREAM_USAGE",
        )
    }

    assert Settings.from_env(blank) == Settings()


def test_settings_from_env_reads_allowed_hosts_lower_cased_and_trimmed() -> None:
    settings = Settings.from_env(
        {"LLMOBSERVE_ALLOWED_HOSTS": " LLM.internal , *.OpenAI.Azure.com,,localhost:8080 "}
    )

    assert settings.allowed_hosts == ("llm.internal", "*.openai.azure.com", "localhost:8080")


@pytest.mark.parametrize("value", ["*", "*.", "a.*.com", "*.*.example.com", "example.com/v1"])
def test_settings_from_env_refuses_bad_allowed_host(value: str) -> None:
    with pytest.raises(SettingsError, match="LLMOBSERVE_ALLOWED_HOSTS"):
        Settings.from_env({"LLMOBSERVE_ALLOWED_HOSTS": f"ok.example.com,{value}"})


def test_settings_from_env_reads_upstream_overrides() -> None:
    settings = Settings.from_env(
        {
            "LLMOBSERVE_UPSTREAM_OVERRIDES": (
                " API.OpenAI.com = http://127.0.0.1:8081/ ,api.anthropic.com=https://sim.local"
            )
        }
    )

    assert settings.upstream_overrides == {
        "api.openai.com": "http://127.0.0.1:8081",
        "api.anthropic.com": "https://sim.local",
    }


@pytest.mark.parametrize(
    "item",
    [
        "api.openai.com",
        "api.openai.com:http://127.0.0.1:8081",
        "=http://127.0.0.1:8081",
        "api.openai.com=127.0.0.1:8081",
        "api.openai.com=ftp://127.0.0.1",
        "api.openai.com=http://",
        "api.openai.com=http://127.0.0.1:8081/v1",
        "api.openai.com=http://127.0.0.1:8081?x=1",
    ],
)
def test_settings_from_env_refuses_bad_upstream_override(item: str) -> None:
    with pytest.raises(SettingsError, match="LLMOBSERVE_UPSTREAM_OVERRIDES"):
        Settings.from_env({"LLMOBSERVE_UPSTREAM_OVERRIDES": item})


@pytest.mark.parametrize(
    ("name", "attribute", "value", "expected"),
    [
        ("LLMOBSERVE_UPSTREAM_TIMEOUT", "upstream_timeout", "30", 30.0),
        ("LLMOBSERVE_UPSTREAM_TIMEOUT", "upstream_timeout", " 0.25 ", 0.25),
        ("LLMOBSERVE_CONNECT_TIMEOUT", "connect_timeout", "1.5", 1.5),
        ("LLMOBSERVE_MAX_REQUEST_BYTES", "max_request_bytes", "1048576", 1048576),
        ("LLMOBSERVE_MAX_PARSE_BYTES", "max_parse_bytes", "65536", 65536),
        ("LLMOBSERVE_MAX_PARSE_BYTES", "max_parse_bytes", "1e6", 1_000_000),
    ],
)
def test_settings_from_env_reads_positive_number(
    name: str, attribute: str, value: str, expected: float
) -> None:
    settings = Settings.from_env({name: value})

    assert getattr(settings, attribute) == expected
    assert type(getattr(settings, attribute)) is type(expected)


NUMBER_VARIABLES = [
    "LLMOBSERVE_UPSTREAM_TIMEOUT",
    "LLMOBSERVE_CONNECT_TIMEOUT",
    "LLMOBSERVE_MAX_REQUEST_BYTES",
    "LLMOBSERVE_MAX_PARSE_BYTES",
]


@pytest.mark.parametrize("name", NUMBER_VARIABLES)
@pytest.mark.parametrize("value", ["ten", "10s", "0x10", "0", "-1", "-0.5", "-inf"])
def test_settings_from_env_refuses_bad_number(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name", NUMBER_VARIABLES)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_settings_from_env_refuses_non_finite_number(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name", ["LLMOBSERVE_MAX_REQUEST_BYTES", "LLMOBSERVE_MAX_PARSE_BYTES"])
def test_settings_from_env_refuses_fractional_byte_limit(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: "0.5"})


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "on"])
def test_settings_from_env_reads_true_flag(value: str) -> None:
    assert Settings.from_env({"LLMOBSERVE_INJECT_STREAM_USAGE": value}).inject_stream_usage


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "OFF"])
def test_settings_from_env_reads_false_flag(value: str) -> None:
    assert not Settings.from_env({"LLMOBSERVE_INJECT_STREAM_USAGE": value}).inject_stream_usage


@pytest.mark.parametrize("value", ["2", "enabled", "y", "t"])
def test_settings_from_env_refuses_bad_flag(value: str) -> None:
    with pytest.raises(SettingsError, match="LLMOBSERVE_INJECT_STREAM_USAGE"):
        Settings.from_env({"LLMOBSERVE_INJECT_STREAM_USAGE": value})


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)
