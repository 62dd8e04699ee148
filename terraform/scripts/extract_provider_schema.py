#!/usr/bin/env python3
"""Extract the provider schema facts the Terraform tests check, from the prebuilt CDKTF bindings.

The AWS provider's schema is not reachable offline (the Terraform registry is), but the npm
packages @cdktf/provider-aws (21.x = hashicorp/aws 6.x) and @cdktf/provider-random carry it in
their jsii type manifests (`.jsii`). This script reads them once and writes
tests/data/terraform_provider_schema.json: every resource and data source type name, and the
argument tree (names, required, nested blocks) of each type that terraform/ uses.

Regenerate after adding a resource type or changing the pinned bindings:

    .venv/bin/python terraform/scripts/extract_provider_schema.py

It downloads the two packages with `npm pack` into ~/.cache/rolechat-terraform-schema (once), or
reads the directories given with --aws / --random (unpacked packages).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
OUT = ROOT / "tests" / "data" / "terraform_provider_schema.json"
CACHE = Path.home() / ".cache" / "rolechat-terraform-schema"
PACKAGES = {"aws": "@cdktf/provider-aws@21.22.1", "random": "@cdktf/provider-random@12.0.1"}

# Ephemeral resources are not modelled by CDKTF; these few are taken from the provider's
# documentation (hashicorp/aws 6.x, ephemeral-resources/secretsmanager_random_password).
EPHEMERAL = {
    "aws_secretsmanager_random_password": {
        "args": {name: {"required": False} for name in (
            "exclude_characters", "exclude_lowercase", "exclude_numbers", "exclude_punctuation",
            "exclude_uppercase", "include_space", "password_length", "region",
            "require_each_included_type")},
        "attributes": ["random_password"],
        "source": "provider documentation (not in the CDKTF bindings)",
    },
}

LINK = re.compile(r"/docs/(resources|data-sources)/(\w+) (\w+)\}")
ANCHOR = re.compile(r"#(\w+) ")


def package_dir(name: str, given: str | None) -> Path:
    if given:
        return Path(given)
    target = CACHE / name
    if not (target / "package" / ".jsii").exists():
        target.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["npm", "pack", "--silent", PACKAGES[name]], cwd=target, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(target / out) as tar:
            tar.extractall(target, filter="data")
    return target / "package"


def used_types() -> tuple[set[str], set[str]]:
    resources, data = set(), set()
    for tf in TERRAFORM.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        text = tf.read_text()
        resources |= set(re.findall(r'^\s*resource\s+"(\w+)"', text, re.M))
        data |= set(re.findall(r'^\s*data\s+"(\w+)"', text, re.M))
    return resources, data


def snake(prop: dict) -> str:
    docs = prop.get("docs", {})
    match = ANCHOR.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    if match:
        return match.group(1)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower()


def struct_of(type_ref: dict, types: dict) -> str | None:
    """The struct (nested block) a property's type refers to, if any."""
    if "fqn" in type_ref:
        t = types.get(type_ref["fqn"])
        return type_ref["fqn"] if t and t.get("datatype") else None
    if "collection" in type_ref:
        return struct_of(type_ref["collection"]["elementtype"], types)
    if "union" in type_ref:
        for option in type_ref["union"]["types"]:
            found = struct_of(option, types)
            if found:
                return found
    return None


def args_of(fqn: str, types: dict, depth: int = 0) -> dict:
    out = {}
    for prop in types[fqn].get("properties", []):
        entry: dict = {"required": not prop.get("optional", False)}
        nested = struct_of(prop["type"], types)
        if nested and depth < 8:
            entry["block"] = args_of(nested, types, depth + 1)
        out[snake(prop)] = entry
    return out


def attributes_of(cls: dict) -> list[str]:
    names = set()
    for prop in cls.get("properties", []):
        if prop.get("static") or prop["name"].endswith("Input"):
            continue
        names.add(re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower())
    return sorted(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aws", help="unpacked @cdktf/provider-aws directory")
    parser.add_argument("--random", help="unpacked @cdktf/provider-random directory")
    options = parser.parse_args()
    want_resources, want_data = used_types()
    result: dict = {"providers": {}, "resource": {}, "data": {}, "ephemeral": EPHEMERAL,
                    "resource_types": [], "data_types": []}
    for name in PACKAGES:
        root = package_dir(name, getattr(options, name))
        manifest = json.loads((root / ".jsii").read_text())
        types = manifest["types"]
        version = re.search(r"provider version ([\d.]+)", manifest.get("readme", {}).get("markdown", "") +
                            (root / "README.md").read_text())
        result["providers"][name] = {"bindings": f"{manifest['name']}@{manifest['version']}",
                                     "provider_version": version.group(1) if version else None}
        for fqn, cls in types.items():
            if cls.get("kind") != "class":
                continue
            link = LINK.search(cls.get("docs", {}).get("summary", ""))
            if not link:
                continue
            kind, tf_type = ("resource" if link.group(1) == "resources" else "data"), link.group(3)
            result[f"{kind}_types"].append(tf_type)
            wanted = want_resources if kind == "resource" else want_data
            if tf_type in wanted:
                config = cls["initializer"]["parameters"][-1]["type"]["fqn"]
                result[kind][tf_type] = {"args": args_of(config, types), "attributes": attributes_of(cls)}
    for key in ("resource_types", "data_types"):
        result[key] = sorted(set(result[key]))
    missing = (want_resources - set(result["resource"])) | (want_data - set(result["data"]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(result['resource'])} resource and "
          f"{len(result['data'])} data source schemas")
    if missing:
        print(f"unknown to the provider: {sorted(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
