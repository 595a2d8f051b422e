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


def main(extras: list[str]) -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    for requirement in requirements:
        pin = lower_bound(requirement)
        if pin:
            print(pin)


if __name__ == "__main__":
    main(sys.argv[1:])
