"""Prints a pip constraints file pinning every declared dependency at its lowest declared version.

Reads ``[project] dependencies`` and the extras named on the command line from pyproject.toml, so the
lowest-versions check (.ci/deps lowest) always tests the floors the package declares, never a copy of them.
A requirement without a ``>=`` floor is left to the resolver.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*[^#;]*?>=\s*([0-9][^,;\s]*)")


def floors(pyproject: Path, extras: list[str]) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project.get("dependencies", []))
    for extra in extras:
        reqs += project.get("optional-dependencies", {}).get(extra, [])
    out: dict[str, str] = {}
    for req in reqs:
        m = FLOOR.match(req)
        if m:
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            # the highest floor wins when two requirements name one package (apache-beam and apache-beam[gcp])
            if name not in out or _key(m.group(2)) > _key(out[name]):
                out[name] = m.group(2)
    return out


def _key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", version))


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    for name, version in sorted(floors(root / "pyproject.toml", sys.argv[1:]).items()):
        print(f"{name}=={version}")
