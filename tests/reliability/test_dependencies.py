"""The hashed lock file pins exactly the releases of requirements/lock.txt, each with hashes."""

from __future__ import annotations

import re

from tests.reliability.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", re.MULTILINE)


def pinned(text: str) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in _PIN.findall(text)}


def test_lock_hashes_pins_the_same_releases_as_the_lock_file():
    lock = pinned((ROOT / "requirements/lock.txt").read_text())
    hashed_text = (ROOT / "requirements/lock-hashes.txt").read_text()
    # Regenerate with the command in lock-hashes.txt's header when this fails.
    assert pinned(hashed_text) == lock


def test_every_hashed_pin_has_a_sha256_hash():
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+(?:\[[^\]]*\])?==)", "\n" + _body())
    for entry in filter(None, (e.strip() for e in entries)):
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def _body() -> str:
    text = (ROOT / "requirements/lock-hashes.txt").read_text()
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))
