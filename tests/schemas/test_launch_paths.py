"""The launch contract lives in the schema: every config field typed ``DataPath`` is resolved against the
config file, checked for existence, and rewritten or refused for remote workers, with no list of fields.

The fields are enumerated from the models (``schemas.paths.path_fields``), so a new path field is covered
by these tests the day it is added, and fails them until the fixture config below gives it a value.
"""
from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml

from pilewright.pipeline.job.config import LoadedConfig, check_inputs_exist, load_config
from pilewright.pipeline.job.remote import for_remote_workers
from pilewright.schemas.config import RunConfig
from pilewright.schemas.errors import UserError
from pilewright.schemas.paths import data_paths, is_remote, map_data_paths, path_fields

from conftest import SAMPLE_DIR
from hf_tokenizers import train_byte_bpe

BUCKET = "gs://pilewright-launch-test"
LID = Path(str(resources.files("pilewright.transforms") / "models" / "lid.176.ftz"))
EVAL_ITEM = {"question": "What is two plus two, asked the teacher of the class this morning?"}
TEXT = "The committee met on Tuesday to discuss the annual budget and the plans for the new library building."


def _c4_lists(name: str) -> dict:
    return {variant: {"bad_words": {"lists": {"en": f"lists/{name}_{variant}.txt"}}}
            for variant in ("c4", "c4_paper", "c4_tfds")}


def _config(tokenizer: dict) -> dict:
    """A config with a relative local path in every path field of every stage and of a profile."""
    return {
        "run": {"output": "out", "seed": 1},
        "sources": [{"name": "web", "paths": ["data/*.jsonl"], "format": "jsonl", "profile": "mine"}],
        "stages": {
            "url_filter": {k: [f"lists/{k}.txt"] for k in
                           ("block_domains", "block_substrings", "allow_domains", "allow_substrings")},
            "langid": {"languages": ["en"], "model": "models/lid.ftz"},
            "quality": {**_c4_lists("stages"), "classifiers": [{"model": "models/clf.ftz", "label": "en"}]},
            "decontaminate": {"sets": [{"name": "ev", "paths": ["evals/ev.jsonl"], "fields": ["question"]}]},
            "pii": {"ner_model": "./ner"},
        },
        "tokenizer": tokenizer,
        "profiles": {"mine": {
            "langid": {"model": "models/lid_profile.ftz"},
            "quality": {**_c4_lists("profile"), "classifiers": [{"model": "models/clf_profile.ftz", "label": "en"}]},
        }},
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The config files (one per tokenizer kind) and every file they name."""
    root = tmp_path_factory.mktemp("launch")
    for folder in ("data", "lists", "models", "evals", "tok", "ner"):
        (root / folder).mkdir()
    (root / "data" / "a.jsonl").write_text(json.dumps({"id": "1", "text": TEXT}) + "\n")
    (root / "evals" / "ev.jsonl").write_text(json.dumps(EVAL_ITEM) + "\n")
    for name in ("lid", "clf", "lid_profile", "clf_profile"):
        shutil.copy(LID, root / "models" / f"{name}.ftz")
    for k in ("block_domains", "block_substrings", "allow_domains", "allow_substrings"):
        (root / "lists" / f"{k}.txt").write_text("example.com\n")
    for name in ("stages", "profile"):
        for variant in ("c4", "c4_paper", "c4_tfds"):
            (root / "lists" / f"{name}_{variant}.txt").write_text("badword\n")
    (root / "tok" / "tokenizer.model").write_bytes(b"not read before the launch checks")
    (root / "tok" / "tokenizer.json").write_bytes(train_byte_bpe([TEXT] * 20, vocab_size=300))
    (root / "spm.yaml").write_text(yaml.safe_dump(_config({"model": "tok/tokenizer.model"})))
    (root / "hf.yaml").write_text(yaml.safe_dump(_config({"hf": "tok/tokenizer.json"})))
    return root


@pytest.fixture(scope="module")
def bases(root) -> list[LoadedConfig]:
    return [load_config(str(root / "spm.yaml")), load_config(str(root / "hf.yaml"))]


FIELDS = dict(path_fields(RunConfig))


def _base_for(bases, field: str) -> LoadedConfig:
    for loaded in bases:
        if any(pv.field == field for pv in data_paths(loaded.resolved)):
            return loaded
    raise AssertionError(f"path field {field} has no value in the test configs: give it one in _config")


def test_every_path_field_is_in_the_test_configs(bases):
    held = {pv.field for loaded in bases for pv in data_paths(loaded.resolved)}
    assert set(FIELDS) - held == set(), "a path field the test configs do not set: give it a value in _config"
    # the walk and the enumeration agree on what a path field is
    assert held <= set(FIELDS)
    # the fields the three hand-kept lists of earlier versions knew, and those they missed
    for field in ("sources[].paths[]", "tokenizer.model", "tokenizer.hf", "stages.url_filter.block_domains[]",
                  "stages.decontaminate.sets[].paths[]", "stages.quality.c4.bad_words.lists{}",
                  "stages.langid.model", "stages.quality.classifiers[].model", "stages.pii.ner_model",
                  "profiles{}.quality.classifiers[].model", "profiles{}.langid.model"):
        assert field in FIELDS


def test_every_relative_path_is_resolved_against_the_config_folder(root, bases):
    for loaded in bases:
        found = data_paths(loaded.resolved, skip_disabled=False)
        assert found and all(os.path.isabs(pv.value) and pv.value.startswith(str(root)) for pv in found), found
        # the manifest records the config as written
        assert all(not os.path.isabs(pv.value) for pv in data_paths(loaded.written, skip_disabled=False))
    # names are not paths: a shipped model, `auto`, an installed package
    cfg = RunConfig.model_validate({"sources": [{"name": "s", "paths": ["x"], "format": "jsonl"}],
                                    "stages": {"langid": {"model": "lid.176.ftz"}, "pii": {"ner_model": "en_core_web_sm"}}})
    assert [pv.field for pv in data_paths(cfg)] == ["sources[].paths[]"]


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_a_missing_input_is_named_before_the_run(bases, field):
    loaded = _base_for(bases, field)
    resolved = map_data_paths(loaded.resolved, lambda pv: pv.value + ".missing" if pv.field == field else pv.value)
    first = next(pv for pv in data_paths(resolved) if pv.field == field)
    with pytest.raises(UserError) as err:
        check_inputs_exist(resolved, loaded.written)
    assert str(err.value).startswith(f"{first.where}: "), str(err.value)


def _as_yaml(cfg: RunConfig) -> dict:
    """The config as a file would write it: an absent block is left out (a null block means its defaults)."""
    data = {k: v for k, v in cfg.model_dump(mode="json").items() if v is not None}
    data["stages"] = {k: v for k, v in data["stages"].items() if v is not None}
    return data


def _remote(value: str) -> str:
    return f"{BUCKET}/{value.lstrip('./')}"


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_dataflow_dry_run_refuses_a_local_path_in_any_field(root, bases, field, tmp_path, no_network, capsys):
    """Every path but those of ``field`` is a bucket URL: the launch stops with one line naming ``field``."""
    pytest.importorskip("apache_beam.io.gcp.gcsfilesystem", reason="apache-beam[gcp] is not installed")
    from pilewright.pipeline.cli.main import main

    loaded = _base_for(bases, field)
    written = map_data_paths(loaded.written, lambda pv: pv.value if pv.field == field else _remote(pv.value))
    first = next(pv for pv in data_paths(written) if pv.field == field)
    cfg = root / f"dry-{tmp_path.name}.yaml"  # beside the files, which the relative paths name
    cfg.write_text(yaml.safe_dump(_as_yaml(written)))
    code = main([
        "run", "--config", str(cfg), "--output", f"{BUCKET}/out", "--runner=DataflowRunner", "--dry_run=True",
        "--project=pilewright-dry-run", "--region=us-central1", f"--temp_location={BUCKET}/tmp",
        "--extra_package=dist/pilewright-0.0.0-py3-none-any.whl",
    ])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith(f"pilewright: error: {first.where}: "), err
    assert "remote workers cannot read" in err[0]


def _package_path(kind: str) -> str:
    """A path inside the installed pilewright package that a field of ``kind`` accepts."""
    return {"glob": str(SAMPLE_DIR / "moby_dick.jsonl.gz"), "file": str(LID), "file_or_folder": str(LID),
            "folder": str(LID.parent)}[kind]


def test_package_data_is_staged_for_remote_workers_in_every_field(bases):
    """A path inside pilewright's package reaches the workers as a ``pkg://`` URL of their installed copy;
    a field whose reader takes only local paths (``DataPath.urls`` false) is refused instead."""
    from apache_beam.io.filesystems import FileSystems

    from pilewright.pipeline.job import package_fs  # noqa: F401  (registers pkg://)

    handled = set()
    for loaded in bases:
        inside = map_data_paths(loaded.resolved, lambda pv: _package_path(pv.mark.kind))
        local_only = [pv for pv in data_paths(inside) if not pv.mark.urls]
        for pv in local_only:
            with pytest.raises(UserError, match=rf"^{__import__('re').escape(pv.where)}: .*cannot read"):
                for_remote_workers(LoadedConfig(loaded.written, inside, loaded.path))
            inside = map_data_paths(inside, lambda p, f=pv.field: _remote(p.value) if p.field == f else p.value)
            handled.add(pv.field)
        staged = for_remote_workers(LoadedConfig(loaded.written, inside, loaded.path))
        for before, after in zip(data_paths(inside), data_paths(staged.resolved)):
            assert before.field == after.field and is_remote(after.value), after
            if after.value.startswith("pkg://"):
                handled.add(after.field)
                if before.mark.kind != "folder":
                    with FileSystems.open(after.value, compression_type="uncompressed") as f:
                        assert f.read() == Path(before.value).read_bytes()
    assert handled == set(FIELDS)
