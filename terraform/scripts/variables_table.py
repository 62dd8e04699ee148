#!/usr/bin/env python3
"""Print (or, with --write, update in README.md) the table of terraform/variables.tf.

The table sits in README.md between the markers `<!-- terraform-variables:start -->` and
`<!-- terraform-variables:end -->`; tests/test_terraform_consistency.py fails when it is stale.
    .venv/bin/python terraform/scripts/variables_table.py --write
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- terraform-variables:start -->", "<!-- terraform-variables:end -->"


def _plain(value) -> str:
    if isinstance(value, str):
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        return value.replace("${", "").replace("}", "") if value.startswith("${") else value
    return str(value)


def _default(spec: dict) -> str:
    if "default" not in spec:
        return "**required**"
    value = spec["default"]
    if isinstance(value, str):
        text = _plain(value)
        return f"`\"{text}\"`" if value.startswith('"') else f"`{text}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)) and not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    if isinstance(value, (list, dict)):
        return "see variables.tf"
    return f"`{value}`"


def table() -> str:
    with open(ROOT / "terraform" / "variables.tf") as handle:
        doc = hcl2.load(handle)
    rows = ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
    for entry in doc["variable"]:
        for name, spec in entry.items():
            name = _plain(name)
            kind = re.sub(r"\s+", " ", _plain(spec["type"]))
            description = _plain(spec["description"]).replace("|", "\\|")
            rows.append(f"| `{name}` | `{kind}` | {_default(spec)} | {description} |")
    return "\n".join(rows)


def main() -> int:
    text = table()
    if "--write" not in sys.argv:
        print(text)
        return 0
    readme = ROOT / "README.md"
    content = readme.read_text()
    if START not in content:
        print("README.md has no terraform-variables markers", file=sys.stderr)
        return 1
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
