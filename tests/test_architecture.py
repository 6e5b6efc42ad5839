"""The house rules ARCHITECTURE.md states, checked: imports run one way, and every stage registers once."""
from __future__ import annotations

import ast
import importlib
import os
import re
import sys

import pytest

from pilewright.schemas import records
from pilewright.schemas.config import StagesConfig
from pilewright.transforms.flow import FLOW, STAGE_NAMES, STAGES

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
    families = set(STAGE_NAMES)
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


@pytest.mark.parametrize("spec", STAGES, ids=lambda s: s.name)
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


# --- pipeline/ composes and runs; it names no stage ------------------------------------------------------

# the composition list: the one module of pipeline/ that names stages
COMPOSITION = "pipeline/job/stages.py"
NAMING_CHECKED = ("pipeline/job", "pipeline/cli", "pipeline/audit")
NAMING_PENDING: tuple[str, ...] = ()


RECORD_TYPES = frozenset(name for name, value in vars(records).items()
                          if isinstance(value, type) and value.__module__ == records.__name__)


def _words(identifier: str) -> str:
    """``MixDomains`` / ``mix_report`` / ``MIX`` -> ``_mix_domains_`` / ``_mix_report_`` / ``_mix_``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", identifier).lower()
    return f"_{snake.strip('_')}_"


def _names_a_stage(text: str) -> list[str]:
    return [name for name in STAGE_NAMES if f"_{name}_" in _words(text)]


def stage_names_in(path: str) -> list[str]:
    """Where the module at ``path`` names a stage: an identifier (variable, attribute, argument, function or
    class, keyword) with a stage's name among its words, or a string that is a stage's name or starts with
    one and a dot (``"mix"``, ``"stages.quality"``), or that holds such a name after a ``stages.``.

    Not counted: comments and docstrings, and strings of prose (a help text that mentions "quality" does
    not make the job branch on the quality stage); imports (a family's helper a command uses, as
    ``pilewright classifier`` trains the quality family's classifiers, is a use, not a decision); the
    typed records of ``schemas/records.py`` by their type names (``ShardInfo``: the contract between
    stages and outputs, not a stage).
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings or isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        idents = []
        if isinstance(node, ast.Name):
            idents = [node.id]
        elif isinstance(node, ast.Attribute):
            idents = [node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            idents = [node.name]
        elif isinstance(node, ast.arg):
            idents = [node.arg]
        elif isinstance(node, ast.keyword) and node.arg:
            idents = [node.arg]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            for name in STAGE_NAMES:
                if text == name or text.startswith(name + ".") or re.search(rf"\bstages\.{name}\b", text):
                    found.append(f"{os.path.relpath(path, REPO)}:{node.lineno}: string {text!r}")
            continue
        for ident in idents:
            if ident in RECORD_TYPES:
                continue
            for name in _names_a_stage(ident):
                found.append(f"{os.path.relpath(path, REPO)}:{node.lineno}: {ident} ({name})")
    return found


def stage_names_outside_composition() -> list[str]:
    found = []
    for top in NAMING_CHECKED:
        for folder, subs, names in os.walk(os.path.join(REPO, top)):
            subs[:] = sorted(s for s in subs if s != "__pycache__")
            for name in sorted(names):
                rel = os.path.relpath(os.path.join(folder, name), REPO).replace(os.sep, "/")
                if name.endswith(".py") and rel != COMPOSITION and rel not in NAMING_PENDING:
                    found += stage_names_in(os.path.join(folder, name))
    return found


def test_pipeline_names_stages_only_in_the_composition_list():
    """Every stage (the spine's too) is built by its family from its own config; the job composes them in
    ``pipeline/job/stages.py`` and nowhere else branches on a particular stage (what counts: ``stage_names_in``;
    the modules still being reworked: ``NAMING_PENDING``)."""
    assert stage_names_outside_composition() == []


def test_the_naming_check_sees_a_stage_named(tmp_path):
    planted = tmp_path / "build.py"
    planted.write_text(
        '"""Builds the tokenize stage (a docstring: not counted)."""\n'
        "mix_report = cfg.mix  # a comment about dedup: not counted\n"
        "section = stages['ingest']\n"
        "help_text = 'recompute shard hashes'\n"
        "raise ValueError(f'stages.url_filter.{key}: not found')\n"
        "x = DedupNear(out)\n"
        "def f(info: ShardInfo):\n"
        '    """the shard\'s info (a docstring)"""\n'
    )
    got = [line.split(": ", 1)[1] for line in stage_names_in(str(planted))]
    assert sorted(got) == sorted([
        "mix_report (mix)", "mix (mix)", "string 'ingest'", "string 'stages.url_filter.'", "DedupNear (dedup)",
    ])
