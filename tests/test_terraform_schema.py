"""Every resource, data source and argument in terraform/ exists in the pinned providers' schema
(hashicorp/aws 6.x, hashicorp/random 3.x), every required argument is given, every reference
points at something declared. The schema facts come from tests/data/terraform_provider_schema.json,
made by terraform/scripts/extract_provider_schema.py from the prebuilt CDKTF bindings."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.test_terraform_hcl import META, TERRAFORM, all_modules, is_block, module, strip_comments, unquote

SCHEMA = json.loads((Path(__file__).parent / "data" / "terraform_provider_schema.json").read_text())


def check_body(body: dict, args: dict, where: str, problems: list[str]) -> None:
    for key, value in body.items():
        if key in META:
            continue
        if key == "dynamic":
            for dyn in value:
                for name, dyn_body in dyn.items():
                    name = unquote(name)
                    spec = args.get(name)
                    if not spec or "block" not in spec:
                        problems.append(f"{where}: dynamic {name!r} is not a nested block")
                        continue
                    for content in dyn_body.get("content", []):
                        check_body(content, spec["block"], f"{where}.{name}", problems)
            continue
        spec = args.get(key)
        if spec is None:
            problems.append(f"{where}: unknown argument {key!r}")
            continue
        if "block" in spec and isinstance(value, list) and value and all(is_block(v) for v in value):
            for item in value:
                check_body(item, spec["block"], f"{where}.{key}", problems)
    given = set(body) | {unquote(n) for dyn in body.get("dynamic", []) for n in dyn}
    for name, spec in args.items():
        if spec["required"] and name not in given and name != "id":
            problems.append(f"{where}: required argument {name!r} missing")


def test_schema_file_is_for_aws_provider_6():
    assert SCHEMA["providers"]["aws"]["provider_version"].startswith("6.")
    assert len(SCHEMA["resource_types"]) > 1000


@pytest.mark.parametrize("kind", ["resource", "data", "ephemeral"])
def test_types_and_arguments_match_the_provider_schema(kind):
    problems: list[str] = []
    for m in all_modules():
        store = {"resource": m.resources, "data": m.data, "ephemeral": m.ephemeral}[kind]
        for (rtype, rname), (body, path) in store.items():
            where = f"{path.relative_to(TERRAFORM)}: {kind} {rtype}.{rname}"
            schema = SCHEMA[kind].get(rtype)
            if schema is None:
                known = rtype in SCHEMA.get(f"{kind}_types", [])
                problems.append(f"{where}: {'schema not extracted (run terraform/scripts/extract_provider_schema.py)' if known else 'unknown type'}")
                continue
            check_body(body, schema["args"], where, problems)
    assert not problems, "\n".join(problems)


REF = re.compile(r"(?<![\w.\-])(data\.|ephemeral\.)?((?:aws|random)_\w+)\.(\w+)(?:\[[^\]]*\])?(?:\.(\w+))?")


def test_references_point_at_declared_things():
    problems = []
    for m in all_modules():
        text = strip_comments(m.text())
        # strings inside heredocs/templates are HCL too; quoted literals like "aws:SecureTransport" are not references
        text = re.sub(r'"(?:[^"\\$]|\\.)*"', '""', text)
        for var in set(re.findall(r"\bvar\.([a-z_][\w-]*)", text)):
            if var not in m.variables:
                problems.append(f"{m.dir}: var.{var} is not declared")
        for local in set(re.findall(r"\blocal\.(\w+)", text)):
            if local not in m.locals:
                problems.append(f"{m.dir}: local.{local} is not defined")
        for call, output in set(re.findall(r"\bmodule\.([\w-]+)\.(\w+)", text)):
            if call not in m.modules:
                problems.append(f"{m.dir}: module.{call} is not called")
                continue
            child = module((m.dir / unquote(m.modules[call]["source"])).resolve())
            if output not in child.outputs:
                problems.append(f"{m.dir}: module.{call} has no output {output!r}")
        for prefix, rtype, rname, attr in REF.findall(text):
            kind = {"data.": "data", "ephemeral.": "ephemeral", "": "resource"}[prefix]
            store = {"resource": m.resources, "data": m.data, "ephemeral": m.ephemeral}[kind]
            if (rtype, rname) not in store:
                problems.append(f"{m.dir}: {prefix}{rtype}.{rname} is not declared")
                continue
            schema = SCHEMA[kind].get(rtype)
            if attr and schema and attr not in schema.get("attributes", []) and attr not in schema["args"]:
                problems.append(f"{m.dir}: {prefix}{rtype}.{rname} has no attribute {attr!r}")
    assert not problems, "\n".join(sorted(problems))


def test_module_calls_match_child_variables():
    problems = []
    for m in all_modules():
        for call, body in m.modules.items():
            child = module((m.dir / unquote(body["source"])).resolve())
            given = {k for k in body if k not in META and k != "source"}
            for name in given - set(child.variables):
                problems.append(f"{m.dir}: module {call} passes unknown input {name!r}")
            for name, spec in child.variables.items():
                if "default" not in spec and name not in given:
                    problems.append(f"{m.dir}: module {call} misses required input {name!r}")
    assert not problems, "\n".join(problems)


def test_every_variable_is_typed_and_described():
    problems = []
    for m in all_modules():
        for name, spec in m.variables.items():
            for field in ("type", "description"):
                if field not in spec:
                    problems.append(f"{m.dir}: variable {name} has no {field}")
        for name, spec in m.outputs.items():
            if "description" not in spec:
                problems.append(f"{m.dir}: output {name} has no description")
    assert not problems, "\n".join(problems)


def test_root_variables_are_validated_where_they_can_be():
    root = module(TERRAFORM)
    free_form = {"tags", "self_sign_up", "single_nat_gateway", "interface_endpoints", "api_clients"}  # any value of the type is valid
    unvalidated = [n for n, spec in root.variables.items() if "validation" not in spec and n not in free_form]
    assert not unvalidated, f"root variables without validation: {unvalidated}"
    assert "url" in root.outputs
