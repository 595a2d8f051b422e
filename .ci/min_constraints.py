"""Print a pip constraints file that pins every direct dependency to its declared lower bound.

`.ci/run` installs the project with these constraints into a second virtualenv and runs the
tests there too, so a lower bound in pyproject.toml that is too low fails CI instead of a user's
fresh install. Usage: python .ci/min_constraints.py EXTRA [EXTRA ...] > constraints.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")


def lower_bound(requirement: str) -> str | None:
    """`name==X` for a requirement with `>=X`, else None (nothing to pin)."""
    match = REQUIREMENT.match(requirement.split(";")[0])
    if not match:
        return None
    name, _, spec = match.groups()
    bound = re.search(r">=\s*([^,\s]+)", spec)
    return f"{name}=={bound.group(1)}" if bound else None


def requirements(project: dict, extras: list[str]) -> list[str]:
    """The base dependencies and those of `extras`, with an extra that names the project itself
    (`all = ["paperboy-bot[telegram,discord]"]`) replaced by the extras it names."""
    found = list(project["dependencies"])
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in project["optional-dependencies"][extra]:
            match = REQUIREMENT.match(requirement.split(";")[0])
            if match and match.group(1) == project["name"]:
                pending += [name.strip() for name in (match.group(2) or "[]")[1:-1].split(",") if name.strip()]
            else:
                found.append(requirement)
    return found


def main(extras: list[str]) -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    for requirement in requirements(project, extras):
        pin = lower_bound(requirement)
        if pin:
            print(pin)


if __name__ == "__main__":
    main(sys.argv[1:])
