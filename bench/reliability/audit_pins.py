"""Check every pinned release against the package index: still there, not yanked, same bytes.

    python bench/reliability/audit_pins.py                      # requirements/lock-hashes.txt

For each `name==version` in the hashed lock file it reads the index's JSON simple page
(PEP 691, the one API the registry serves here; pip-audit needs PyPI's per-release JSON API,
which is not reachable from this network) and fails when:
- the release has no file on the index (deleted: PyPI removes malicious uploads entirely);
- a file of the release is yanked (how maintainers and PyPI flag broken or compromised
  releases), with the yank reason printed;
- a pinned hash is not one the index publishes for that release (the bytes changed).

Advisories (CVEs) are not in the simple API: run `pip-audit -r requirements/lock.txt` where
PyPI's JSON API or OSV is reachable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

from packaging.utils import (
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
INDEX = "https://pypi.org/simple"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^ \\;]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def pins(path: Path) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    current: tuple[str, str] | None = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = (canonicalize_name(match[1]), match[2])
            found[current] = set()
        if current is not None:
            found[current].update(_HASH.findall(line))
    return found


def release_files(name: str, version: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        page = json.load(response)
    wanted = Version(version)
    files = []
    for entry in page["files"]:
        filename = entry["filename"]
        try:
            if filename.endswith(".whl"):
                file_version = parse_wheel_filename(filename)[1]
            else:
                file_version = parse_sdist_filename(filename)[1]
        except ValueError:
            continue
        if file_version == wanted:
            files.append(entry)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lock", nargs="?", default=str(ROOT / "requirements/lock-hashes.txt"))
    args = parser.parse_args(argv)
    problems = []
    pinned = pins(Path(args.lock))
    for (name, version), hashes in sorted(pinned.items()):
        files = release_files(name, version)
        if not files:
            problems.append(f"{name}=={version}: no file on the index (removed?)")
            continue
        yanked = [f for f in files if f.get("yanked")]
        for entry in yanked:
            problems.append(f"{name}=={version}: {entry['filename']} yanked: {entry['yanked']}")
        published = {str(f["hashes"].get("sha256")) for f in files}  # type: ignore[union-attr]
        unknown = hashes - published
        if unknown:
            problems.append(f"{name}=={version}: {len(unknown)} pinned hash(es) not on the index")
    for problem in problems:
        print(problem)
    print(f"{len(pinned)} pinned releases checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
