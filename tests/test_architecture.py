"""The house rules ARCHITECTURE.md states, checked: imports run one way, and every stage registers once."""
from __future__ import annotations

import ast
import importlib
import os
import sys

import pytest

from pilewright.schemas.config import StagesConfig
from pilewright.transforms.flow import FLOW

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE_FOLDERS = ("schemas", "tokenizer", "transforms", "pipeline")

# lower layers never import higher ones; a module may import its own layer and any layer below
LAYERS = (
    ("schemas", 0),
    ("tokenizer", 1),
    ("transforms", 2),
    ("pipeline.audit", 3),
    ("pipeline.job", 4),
    ("pipeline.cli", 5),
    ("pipeline.sample", 0),
    ("pipeline", 5),
)


def layer_of(module: str) -> int:
    rest = module[len("pilewright."):]
    for prefix, rank in LAYERS:
        if rest == prefix or rest.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} is in no layer")


def pilewright_imports(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pilewright."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("pilewright.")]
    return found


def code_modules():
    for top in CODE_FOLDERS:
        for folder, subs, names in os.walk(os.path.join(REPO, top)):
            subs[:] = sorted(s for s in subs if s != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                    yield "pilewright." + rel.removesuffix(".__init__"), path


def upward_imports() -> list[str]:
    bad = []
    for module, path in code_modules():
        own = layer_of(module)
        for target in pilewright_imports(path):
            if layer_of(target) > own:
                bad.append(f"{module} imports {target}")
    return bad


def test_no_import_runs_back_up():
    assert upward_imports() == []


def test_the_import_check_sees_an_upward_import(tmp_path, monkeypatch):
    # the check itself must fail on a violation, or the test above proves nothing
    planted = tmp_path / "schemas"
    planted.mkdir()
    (planted / "bad.py").write_text("from pilewright.pipeline.job.build import run_job\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", str(tmp_path))
    assert upward_imports() == ["pilewright.schemas.bad imports pilewright.pipeline.job.build"]


def test_stage_families_do_not_import_each_other():
    # a family may use the shared plumbing (transforms.stage, hashing, fasttext_models), not another family
    families = {spec.name for spec in FLOW} | {"ingest", "tokenize", "mix", "shard"}
    bad = []
    for module, path in code_modules():
        parts = module.split(".")
        if len(parts) < 3 or parts[1] != "transforms" or parts[2] not in families:
            continue
        for target in pilewright_imports(path):
            t = target.split(".")
            if len(t) >= 3 and t[1] == "transforms" and t[2] in families and t[2] != parts[2]:
                bad.append(f"{module} imports {target}")
    assert bad == []


def test_flow_lists_every_stage_block_once_in_config_order():
    assert [spec.name for spec in FLOW] == list(StagesConfig.model_fields)


@pytest.mark.parametrize("spec", FLOW, ids=lambda s: s.name)
def test_every_stage_package_builds_its_stage(spec):
    module = importlib.import_module(spec.module_name)
    assert callable(module.build_stage)
    assert module.__doc__ and "Files" in module.__doc__, f"{spec.module_name} docstring should map its files"


def test_every_subpackage_is_packaged():
    import tomllib

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    on_disk = {m for m, p in code_modules() if p.endswith("__init__.py")}
    assert on_disk - listed == set()
