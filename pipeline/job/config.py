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


def _is_remote(path: str) -> bool:
    return "://" in path


def _resolve(path: str, base_dir: str) -> str:
    if _is_remote(path) or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def resolve_paths(cfg: RunConfig, base_dir: str) -> RunConfig:
    """Relative source, tokenizer, URL-list, evaluation-set and bad-words list paths are relative to the
    config file's folder."""
    # each source's repaired-text limit is resolved too: its own, else the policy's
    sources = [s.model_copy(update={"paths": [_resolve(p, base_dir) for p in s.paths],
                                    "max_repaired_share": s.max_repaired_share if s.max_repaired_share is not None
                                    else cfg.policy.max_repaired_share})
               for s in cfg.sources]
    tokenizer = cfg.tokenizer
    if tokenizer.model:
        tokenizer = tokenizer.model_copy(update={"model": _resolve(tokenizer.model, base_dir)})
    if tokenizer.hf:
        tokenizer = tokenizer.model_copy(update={"hf": _resolve(tokenizer.hf, base_dir)})
    stages = cfg.stages
    if stages.url_filter is not None:
        lists = {k: [_resolve(p, base_dir) for p in getattr(stages.url_filter, k)] for k in URL_LIST_FIELDS}
        stages = stages.model_copy(update={"url_filter": stages.url_filter.model_copy(update=lists)})
    decon = stages.decontaminate
    if decon is not None:
        sets = [s.model_copy(update={"paths": [_resolve(p, base_dir) for p in s.paths]}) for s in decon.sets]
        stages = stages.model_copy(update={"decontaminate": decon.model_copy(update={"sets": sets})})
    quality = stages.quality
    if quality is not None:
        update = {}
        for variant in ("c4", "c4_paper", "c4_tfds"):
            c4 = getattr(quality, variant)
            if c4.bad_words.lists:
                lists = {k: _resolve(v, base_dir) for k, v in c4.bad_words.lists.items()}
                update[variant] = c4.model_copy(update={"bad_words": c4.bad_words.model_copy(update={"lists": lists})})
        if update:
            stages = stages.model_copy(update={"quality": quality.model_copy(update=update)})
    profiles = {name: _resolve_profile_paths(body, base_dir) for name, body in cfg.profiles.items()}
    return cfg.model_copy(update={"sources": sources, "tokenizer": tokenizer, "stages": stages, "profiles": profiles})


def _resolve_profile_paths(body, base_dir: str):
    """A profile's bad-words list paths, relative to the config file like those under ``stages:``."""
    quality = (body or {}).get("quality") or {}
    update = {}
    for variant in ("c4", "c4_paper", "c4_tfds"):
        lists = ((quality.get(variant) or {}).get("bad_words") or {}).get("lists")
        if lists:
            block = dict(quality[variant])
            block["bad_words"] = {**block["bad_words"], "lists": {k: _resolve(v, base_dir) for k, v in lists.items()}}
            update[variant] = block
    if not update:
        return body
    return {**body, "quality": {**quality, **update}}


URL_LIST_FIELDS = ("block_domains", "block_substrings", "allow_domains", "allow_substrings")


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
    """Fails fast, before any worker starts, when a local source pattern matches nothing.

    Remote patterns (gs://, s3://, ...) are left to the workers: listing them here would need
    credentials the launching machine may not have.
    """
    from apache_beam.io.filesystems import FileSystems

    for i, src in enumerate(cfg.sources):
        for j, pattern in enumerate(src.paths):
            if _is_remote(pattern):
                continue
            matches = FileSystems.match([pattern], limits=[1])[0].metadata_list
            if not matches:
                raise ConfigError(
                    f"sources[{i}] ({src.name}).paths[{j}]: no file matches {pattern!r}; "
                    "fix the path or glob (relative paths are relative to the config file)"
                )
    uf = cfg.stages.url_filter
    if uf is not None and uf.enabled:
        for key in URL_LIST_FIELDS:
            for j, path in enumerate(getattr(uf, key)):
                if not _is_remote(path) and not os.path.isfile(path):
                    raise ConfigError(f"stages.url_filter.{key}[{j}]: file not found: {path} (relative to the config file)")
    if cfg.tokenizer.model and not _is_remote(cfg.tokenizer.model) and not os.path.isfile(cfg.tokenizer.model):
        raise ConfigError(f"tokenizer.model: file not found: {cfg.tokenizer.model}")
    if cfg.tokenizer.hf and not _is_remote(cfg.tokenizer.hf):
        from pilewright.tokenizer.hf import TokenizerSourceError, hf_info, read_tokenizer_json

        shown = written.tokenizer.hf if written is not None and written.tokenizer.hf else None
        try:
            # read and checked here so a bad file or an unknown EOS fails before any worker starts
            hf_info(read_tokenizer_json(cfg.tokenizer.hf, shown), cfg.tokenizer.eos_token, cfg.tokenizer.bos_token,
                    cfg.tokenizer.bos)
        except TokenizerSourceError as e:
            raise ConfigError(str(e)) from None
    _check_decontaminate(cfg)
    quality = cfg.stages.quality
    if quality is not None and quality.enabled:
        for rule in quality.rules:
            for lang, path in getattr(quality, rule).bad_words.lists.items() if rule.startswith("c4") else ():
                if not _is_remote(path) and not os.path.isfile(path):
                    raise ConfigError(f"stages.quality.{rule}.bad_words.lists.{lang}: file not found: {path}")


def _check_decontaminate(cfg: RunConfig) -> None:
    """Every local evaluation file is read once here: a missing, empty or field-less file stops the run
    before it starts (remote ones are read by the workers, which report the same error)."""
    decon = cfg.stages.decontaminate
    if decon is None or not decon.enabled:
        return
    if any(_is_remote(p) for s in decon.sets for p in s.paths):
        return
    from pilewright.transforms.decontaminate import EvalSetError, check_eval_sets

    try:
        check_eval_sets(decon)
    except EvalSetError as e:
        raise ConfigError(f"stages.decontaminate: {e}") from None
