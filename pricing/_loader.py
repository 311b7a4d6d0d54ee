"""Reading price files from disk: the bundled directory and the user's override file."""

from __future__ import annotations

from pathlib import Path

import yaml

from pricing._errors import Problem
from pricing._model import ModelEntry
from pricing._schema import parse_document, parse_override
from pricing._yaml import load_yaml

DATA_DIRECTORY = Path(__file__).parent / "data"
OVERRIDE_VARIABLE = "LLMOBSERVE_PRICING_FILE"

Loaded = tuple[list[ModelEntry], dict[str, str], list[Problem]]


def read_directory(directory: Path) -> Loaded:
    """Every ``*.yaml`` provider file of ``directory``: entries, defaults, problems."""
    where = str(directory)
    if not directory.is_dir():
        return [], {}, [Problem(where, None, "<directory>", "is not a directory")]
    problems = [
        Problem(str(path), None, "<file>", "price files must end in .yaml")
        for path in sorted(directory.glob("*.yml"))
    ]
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(Problem(where, None, "<directory>", "contains no *.yaml price files"))
    entries: list[ModelEntry] = []
    defaults: dict[str, str] = {}
    for path in files:
        data, problem = _read(path)
        if problem is not None:
            problems.append(problem)
            continue
        file_entries, file_defaults, file_problems = parse_document(data, str(path), path.stem)
        entries.extend(file_entries)
        defaults.update(file_defaults)
        problems.extend(file_problems)
    return entries, defaults, problems


def read_override(path: Path) -> Loaded:
    """The user's override file: one provider document or ``{providers: [...]}``."""
    data, problem = _read(path)
    if problem is not None:
        return [], {}, [problem]
    return parse_override(data, str(path))


def _read(path: Path) -> tuple[object, Problem | None]:
    try:
        return load_yaml(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, Problem(str(path), None, "<file>", f"cannot be read: {exc}")
    except yaml.YAMLError as exc:
        line = None
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            line = exc.problem_mark.line + 1
        return None, Problem(
            str(path), None, "<file>", f"is not valid YAML: {_describe(exc)}", line
        )


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(filter(None, [exc.context, exc.problem]))
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    return " ".join(str(exc).split())
