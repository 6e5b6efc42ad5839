"""Loading the YAML config: ``yaml.safe_load`` -> ``RunConfig``, with one-line errors a user can act on."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import yaml
from pydantic import ValidationError

from pilewright.schemas.errors import UserError
from pilewright.schemas.config import RunConfig
from pilewright.schemas.paths import data_paths, is_remote, map_data_paths


class ConfigError(UserError):
    """A problem the user can fix; the message names the key or path and the fix."""


@dataclass(frozen=True)
class LoadedConfig:
    """The config as written (for the manifest) and with paths resolved (for running)."""

    written: RunConfig
    resolved: RunConfig
    path: str

    @property
    def canonical_json(self) -> str:
        return canonical_json(self.written)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()


def canonical_json(cfg: RunConfig) -> str:
    return json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def sample_config_path() -> str:
    return str(resources.files("pilewright.pipeline.sample") / "sample.yaml")


def _format_validation_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
    msg = first.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key; check its spelling against the config reference in README.md"
    elif first.get("type") == "string_type" and isinstance(first.get("input"), bool):
        # YAML 1.1 reads unquoted no/yes/on/off/n/y as booleans: `languages: [en, no]` gives False
        word = "no, off or n" if first["input"] is False else "yes, on or y"
        msg = (f"YAML read an unquoted {word} here as the boolean {str(first['input']).lower()}; quote it "
               f"(e.g. 'no') to mean the text")
    elif first.get("type") == "missing":
        msg = "required key is missing"
    got = first.get("input")
    got_txt = "" if first.get("type") in ("missing",) or isinstance(got, dict) else f" (got {got!r})"
    more = f" [+{len(err.errors()) - 1} more]" if len(err.errors()) > 1 else ""
    if not loc:
        # a whole-config check (profiles, source names) names its own key at the start of its message
        return f"{msg}{more}"
    return f"{loc}: {msg}{got_txt}{more}"


def _resolve(path: str, base_dir: str) -> str:
    if is_remote(path) or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def resolve_paths(cfg: RunConfig, base_dir: str) -> RunConfig:
    """Every relative path the config holds (the fields typed ``schemas.paths.DataPath``, in every stage
    and curation profile) is relative to the config file's folder."""
    cfg = map_data_paths(cfg, lambda pv: _resolve(pv.value, base_dir))
    # each source's repaired-text limit is resolved too: its own, else the policy's
    sources = [s.model_copy(update={"max_repaired_share": s.max_repaired_share if s.max_repaired_share is not None
                                    else cfg.policy.max_repaired_share})
               for s in cfg.sources]
    return cfg.model_copy(update={"sources": sources})


def parse_config(data: object, where: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the file must hold a YAML mapping with at least `sources:`")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: {_format_validation_error(e)}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the default constructor reports it
            continue
        line = key_node.start_mark.line + 1
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is written twice (lines {first} and {line}); keep one", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(text) -> object:
    """The YAML document in ``text`` (a string or an open file), refusing duplicate keys."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: Optional[str] = None) -> LoadedConfig:
    """Loads ``path``, or the embedded sample config when ``path`` is None."""
    path = path or sample_config_path()
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path} (pass --config with an existing YAML file)")
    try:
        with open(path, encoding="utf-8") as f:
            data = read_yaml(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    written = parse_config(data, path)
    resolved = resolve_paths(written, os.path.dirname(os.path.abspath(path)))
    return LoadedConfig(written=written, resolved=resolved, path=path)


def check_inputs_exist(cfg: RunConfig, written: Optional[RunConfig] = None) -> None:
    """Fails fast, before any worker starts, when a local input the config names is not there, then runs
    each stage family's own ``check(config, context)`` (what a type cannot say: a file's contents).

    Remote paths (gs://, s3://, ...) are left to the workers: listing them here would need credentials the
    launching machine may not have. Blocks set ``enabled: false`` are not read, so not checked.
    """
    if cfg.tokenizer.hf and not is_remote(cfg.tokenizer.hf):
        from pilewright.tokenizer.hf import TokenizerSourceError, hf_info, read_tokenizer_json

        shown = written.tokenizer.hf if written is not None and written.tokenizer.hf else None
        try:
            # read and checked here so a bad file or an unknown EOS fails before any worker starts (and a
            # model hub name gets its own hint)
            hf_info(read_tokenizer_json(cfg.tokenizer.hf, shown), cfg.tokenizer.eos_token, cfg.tokenizer.bos_token,
                    cfg.tokenizer.bos)
        except TokenizerSourceError as e:
            raise ConfigError(str(e)) from None
    for pv in data_paths(cfg):
        problem = None if is_remote(pv.value) else _missing(pv.mark.kind, pv.value)
        if problem:
            raise ConfigError(f"{pv.where}: {problem}")
    check_stages(cfg)


def _missing(kind: str, path: str) -> Optional[str]:
    """Why nothing of ``kind`` is at the local ``path``, or None."""
    if kind == "glob":
        if not any(c in path for c in "*?[") and os.path.isdir(path):
            # a folder would be read as one unreadable file
            return f"{path} is a folder; give a glob of its files, e.g. {path.rstrip('/')}/*.jsonl"
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.match([path], limits=[1])[0].metadata_list:
            return f"no file matches {path!r}; fix the path or glob (relative paths are relative to the config file)"
        return None
    found = {"file": os.path.isfile, "folder": os.path.isdir, "file_or_folder": os.path.exists}[kind](path)
    what = {"file": "file", "folder": "folder", "file_or_folder": "file or folder"}[kind]
    return None if found else f"{what} not found: {path} (relative paths are relative to the config file)"


def check_stages(cfg: RunConfig) -> None:
    """Each enabled stage family's ``check(config, context)``, in flow order (``transforms.flow``)."""
    from pilewright.pipeline.job.stages import run_context
    from pilewright.transforms.flow import enabled_stages

    context = run_context(cfg)
    for stage in enabled_stages(cfg.stages, context=context):
        stage.spec.check(stage.config, context)
