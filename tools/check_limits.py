"""Size limits that keep files small (run by `make check`).

Every Python module under nephro/, bench/ and tests/ has at most `module-lines` lines,
except those listed in pyproject.toml's [tool.nephro.limits] exceptions, each with the
length it had when it was listed. An exception may only shrink: the check fails when a
listed module grows past its figure, and when it has come under the limit (delete the
entry) or under its figure (lower it), so the list never hides room for growth.

The per-function limits (complexity, branches, statements) are ruff's (C901, PLR0912,
PLR0915); their exceptions are ruff's per-file-ignores, and this check fails when a
listed file no longer breaks a rule it is excused from.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE_RULES = ("C901", "PLR0912", "PLR0915")
TREES = ("nephro", "bench", "tests", "tools")


def _module_lengths() -> dict[str, int]:
    lengths = {}
    for tree in TREES:
        for path in (ROOT / tree).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or "/node_modules/" in relative:
                continue
            lengths[relative] = len(path.read_text(encoding="utf-8").splitlines())
    return lengths


def module_problems(limit: int, exceptions: dict[str, int], lengths: dict[str, int]) -> list[str]:
    problems = []
    for path, lines in sorted(lengths.items()):
        allowed = exceptions.get(path)
        if allowed is None and lines > limit:
            problems.append(f"{path}: {lines} lines (limit {limit}); split it by concern")
        elif allowed is not None and lines > allowed:
            problems.append(f"{path}: {lines} lines, more than its listed {allowed}")
        elif allowed is not None and lines <= limit:
            problems.append(f"{path}: {lines} lines, under the limit: delete its exception")
        elif allowed is not None and lines < allowed:
            problems.append(f"{path}: {lines} lines: lower its exception from {allowed}")
    for path in sorted(set(exceptions) - set(lengths)):
        problems.append(f"{path}: listed as an exception but gone: delete its entry")
    return problems


def stale_rule_ignores(ignores: dict[str, list[str]]) -> list[str]:
    """Listed (file, rule) pairs whose file no longer breaks the rule."""
    listed = {
        (path, rule) for path, rules in ignores.items() for rule in rules if rule in SIZE_RULES
    }
    if not listed:
        return []
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--output-format=json",
            "--select",
            ",".join(SIZE_RULES),
            "--config",
            "lint.per-file-ignores = {}",
            *sorted({path for path, _ in listed}),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    broken = {
        (Path(item["filename"]).relative_to(ROOT).as_posix(), item["code"])
        for item in json.loads(found.stdout or "[]")
    }
    return [
        f"{path}: no longer breaks {rule}: delete it from per-file-ignores"
        for path, rule in sorted(listed - broken)
    ]


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    limits = config["tool"]["nephro"]["limits"]
    ignores = config["tool"]["ruff"]["lint"].get("per-file-ignores", {})
    problems = module_problems(limits["module-lines"], limits["exceptions"], _module_lengths())
    problems += stale_rule_ignores(ignores)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
