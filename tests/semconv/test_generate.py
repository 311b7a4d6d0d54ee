"""`semconv/attributes.py` is generated from the YAML model, and is the only place names live."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import semconv
from semconv import generate

ROOT = Path(__file__).resolve().parents[2]
STRING_LITERAL = re.compile(r"""["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""")


def attribute_names() -> set[str]:
    names = {getattr(semconv, name) for name in semconv.__all__ if name.isupper()}
    return {name for name in names if isinstance(name, str)}


def test_generated_attributes_match_the_model():
    assert generate.render() == generate.TARGET.read_text(), (
        "semconv/attributes.py is stale: run python -m semconv.generate"
    )


def test_every_model_attribute_is_exported_with_its_name():
    registry = yaml.safe_load((generate.MODEL_DIR / "registry.yaml").read_text())
    for group in registry["groups"]:
        if group["type"] == "metric":
            assert (
                getattr(semconv, "METRIC_" + generate.constant_name(group["metric_name"]))
                == (group["metric_name"])
            )
            continue
        for attribute in group["attributes"]:
            name = generate.constant_name(attribute["id"])
            assert getattr(semconv, name) == attribute["id"]
            assert attribute["stability"] in ("development", "stable")
            assert attribute.get("examples"), f"{attribute['id']} has no examples"


def test_official_names_come_from_the_opentelemetry_package():
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes

    assert semconv.GEN_AI_USAGE_INPUT_TOKENS is gen_ai_attributes.GEN_AI_USAGE_INPUT_TOKENS
    assert semconv.GenAiOperationNameValues.CHAT == "chat"
    assert semconv.GEN_AI_PROVIDER_NAME == "gen_ai.provider.name"


def test_no_attribute_name_is_typed_outside_semconv():
    known = attribute_names()
    offenders = []
    for package in ("llmobserve", "proxy", "pricing"):
        for path in (ROOT / package).rglob("*.py"):
            if "simulator" in path.parts:
                continue  # speaks the providers' wire formats, emits no telemetry
            for number, line in enumerate(path.read_text().splitlines(), 1):
                literals = STRING_LITERAL.findall(line)
                if any(lit in known or lit.startswith("gen_ai.") for lit in literals):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
