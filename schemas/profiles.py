"""Curation profiles: per-source settings of the stages that are per-source by nature.

A profile is a named set of partial stage blocks (``normalize``, ``langid``, ``quality``). A source that
names a profile (``sources[].profile``) has its documents judged by the ``stages:`` blocks with the
profile's blocks merged over them (nested mappings merge key by key, lists and scalars replace); a stage
the profile does not mention inherits ``stages:``. Sources without a profile use ``stages:`` unchanged, so
a config without profiles runs exactly as before. Stages that are global by nature (extract and url_filter
read the raw page; decontaminate, dedup, span_dedup and pii compare or redact across sources; tokenize,
mix and shard build one output) keep one config.

``SHIPPED_PROFILES`` may be named without being defined; a user profile may ``extends:`` one of them (or
another user profile). The presets and the reasoning for every threshold they change are in
``schemas/profile_presets.py``.

Pure functions over plain data and the stage config models: no Beam, no transforms.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from pilewright.schemas.profile_presets import PROFILES_VERSION, SHIPPED_PROFILES
from pilewright.schemas.stages.quality import LangIdConfig, NormalizeConfig, QualityConfig

# stage -> its config model, for the stages a profile may set
PER_SOURCE_STAGES: dict[str, type[BaseModel]] = {
    "normalize": NormalizeConfig,
    "langid": LangIdConfig,
    "quality": QualityConfig,
}
# keys of a profile that are not stage blocks
PROFILE_META_KEYS = ("extends", "description")
GLOBAL_STAGES = ("extract", "url_filter", "decontaminate", "dedup", "span_dedup", "pii", "tokenize", "tokenizer",
                 "mix", "shard", "shards")

__all__ = [
    "PER_SOURCE_STAGES", "PROFILES_VERSION", "SHIPPED_PROFILES", "ProfileError", "check_profile",
    "deep_merge", "profile_blocks", "resolve_source_stages", "resolved_digest", "resolved_json",
]


class ProfileError(ValueError):
    """A profile problem; the message starts with the full key (``profiles.<name>.<stage>.<key>: ...``)."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _error_line(where: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key; check its spelling against the config reference in README.md"
    got = first.get("input")
    got_txt = "" if isinstance(got, dict) or first.get("type") == "extra_forbidden" else f" (got {got!r})"
    return f"{where}{'.' + loc if loc else ''}: {msg}{got_txt}"


def check_profile(name: str, body: Any, user_profiles: Mapping[str, Any]) -> None:
    """Raises ``ProfileError`` naming the key when a user profile is malformed."""
    where = f"profiles.{name}"
    if body is None:
        return
    if not isinstance(body, Mapping):
        raise ProfileError(f"{where}: a profile is a mapping of stage blocks (normalize, langid, quality)")
    for key, block in body.items():
        if key in PROFILE_META_KEYS:
            continue
        if key in GLOBAL_STAGES:
            raise ProfileError(
                f"{where}.{key}: {key} is a global stage (one config for every source); set it under `stages:` "
                f"(a profile sets only {', '.join(PER_SOURCE_STAGES)})"
            )
        model = PER_SOURCE_STAGES.get(key)
        if model is None:
            raise ProfileError(f"{where}.{key}: unknown stage; a profile sets only {', '.join(PER_SOURCE_STAGES)}")
        if block is None:
            continue
        if not isinstance(block, Mapping):
            raise ProfileError(f"{where}.{key}: a stage block is a mapping of its keys")
        try:
            model.model_validate(block)
        except ValidationError as e:
            raise ProfileError(_error_line(f"{where}.{key}", e)) from None
    parent = body.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise ProfileError(f"{where}.extends: name one profile (got {parent!r})")
        if parent not in user_profiles and parent not in SHIPPED_PROFILES:
            raise ProfileError(f"{where}.extends: unknown profile {parent!r}; {_known(user_profiles)}")


def _known(user_profiles: Mapping[str, Any]) -> str:
    names = sorted(set(SHIPPED_PROFILES) | set(user_profiles))
    return f"known profiles: {', '.join(names)}"


def profile_blocks(name: str, user_profiles: Mapping[str, Any], _seen: tuple[str, ...] = ()) -> dict[str, dict]:
    """The partial stage blocks of a profile with its ``extends`` chain merged in (parent first)."""
    if name in user_profiles and name not in _seen:
        body = user_profiles[name] or {}
        own = {k: dict(v or {}) for k, v in body.items() if k not in PROFILE_META_KEYS}
        parent = body.get("extends")
        if parent is None:
            return own
        if parent in _seen + (name,) and parent not in SHIPPED_PROFILES:
            raise ProfileError(f"profiles.{name}.extends: {' -> '.join(_seen + (name, parent))} is a cycle")
        # a user profile named like a shipped one and extending that name extends the shipped preset
        base = profile_blocks(parent, user_profiles if parent != name else {}, _seen + (name,))
        return {k: deep_merge(base.get(k, {}), own.get(k, {})) for k in sorted(set(base) | set(own))}
    if name in SHIPPED_PROFILES:
        return {k: dict(v) for k, v in SHIPPED_PROFILES[name].items() if k not in PROFILE_META_KEYS}
    raise ProfileError(f"unknown profile {name!r}; {_known(user_profiles)}")


def resolve_source_stages(profile: str, stages: Any, user_profiles: Mapping[str, Any]) -> dict[str, Any]:
    """stage -> the config model a source with ``profile`` uses, for every per-source stage.

    ``stages`` is the run's ``StagesConfig``; a stage absent there and not set by the profile resolves to
    None (not run for that source), as it is for sources without a profile.
    """
    blocks = profile_blocks(profile, user_profiles)
    out: dict[str, Any] = {}
    for stage, model in PER_SOURCE_STAGES.items():
        base = getattr(stages, stage, None)
        override = blocks.get(stage)
        if not override:
            out[stage] = base
            continue
        merged = deep_merge(base.model_dump() if base is not None else {}, override)
        try:
            out[stage] = model.model_validate(merged)
        except ValidationError as e:
            raise ProfileError(_error_line(f"profiles.{profile}.{stage}", e)) from None
    return out


def resolved_json(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved blocks as JSON data (None for a stage that does not run)."""
    return {k: (v.model_dump(mode="json") if v is not None else None) for k, v in sorted(resolved.items())}


def resolved_digest(resolved: Mapping[str, Any]) -> str:
    """sha256 of the resolved blocks' canonical JSON: equal digests, equal decisions."""
    text = json.dumps(resolved_json(resolved), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()

