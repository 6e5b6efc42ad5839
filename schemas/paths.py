"""Which config fields name input data, said by their type, and the walks over a config that use it.

A field whose value is a file, glob or folder the run reads is typed ``Annotated[str, DataPath(...)]``
(also as the items of a list or the values of a dict). The launcher then resolves relative paths against
the config file's folder, checks that local inputs exist, and rewrites or refuses local paths for remote
workers by walking the models (``data_paths``, ``map_data_paths``), for every stage and every curation
profile, with no list of fields kept anywhere. A new path field is one annotation.

Pure functions over the config models: no Beam, no file access.
"""
from __future__ import annotations

import hashlib

import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Mapping

from pydantic import BaseModel

@dataclass(frozen=True)
class DataPath:
    """Marks a config value as naming input data on any Beam filesystem (local, gs://, s3://, pkg://).

    Attributes:
        kind: what must exist at a local path: ``glob`` (at least one file matches, and it is not a
            folder), ``file``, ``folder``, or ``file_or_folder``.
        names: values that name something shipped with pilewright instead of a path (``lid.176.ftz``).
        bare_names: a value without a ``/`` is a name (an installed package), not a path.
        urls: whether the reader takes any Beam filesystem's URL; False: only a local path (or a name), so
            a local path is refused for remote workers even when it lies inside pilewright's package.
        remote_fix: what to do instead when remote workers cannot read a local path (default: copy it
            to the cloud and give its URL).
    """

    kind: Literal["glob", "file", "folder", "file_or_folder"] = "file"
    names: tuple[str, ...] = ()
    bare_names: bool = False
    urls: bool = True
    remote_fix: str = ""

    def is_path(self, value: str) -> bool:
        """Whether ``value`` is a path (and not a shipped name or a package name)."""
        if value in self.names:
            return False
        return not (self.bare_names and "/" not in value and "\\" not in value)


@dataclass(frozen=True)
class StageBlocks:
    """Marks a mapping of raw (unvalidated, partial) stage blocks, as a curation profile holds them:
    ``stage -> block`` of the model ``models[stage]``. The walks look into them as into the models."""

    models: Mapping[str, type]

    def __hash__(self) -> int:  # typing.Annotated hashes its metadata
        # a stable hash (not the per-process salted built-in), so nothing can come to depend on a salt
        digest = hashlib.sha256("\x1f".join(sorted(self.models)).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class PathValue:
    """One path a config holds: where (the key path as a user reads it: ``sources[0] (web).paths[1]``), its
    field (the pattern ``path_fields`` names it by: ``sources[].paths[]``), its mark and its value."""

    where: str
    field: str
    mark: DataPath
    value: str


@dataclass(frozen=True)
class _At:
    """Where a walk is: as a user reads it, and as the field pattern."""

    where: str = ""
    field: str = ""

    def key(self, key: Any) -> "_At":
        return _At(f"{self.where}.{key}" if self.where else str(key), f"{self.field}.{key}" if self.field else str(key))

    def dict_key(self, key: Any) -> "_At":
        return _At(f"{self.where}.{key}" if self.where else str(key), f"{self.field}{{}}")

    def item(self, index: int, item: Any) -> "_At":
        name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
        # a list item that is a model with a name is shown with it: ``sources[0] (web).paths[1]``
        shown = f" ({name})" if isinstance(name, str) and not isinstance(item, str) else ""
        return _At(f"{self.where}[{index}]{shown}", f"{self.field}[]")


def _unwrap(annotation: Any) -> tuple[Any, tuple]:
    """(annotation without Optional and Annotated, the Annotated metadata found on the way)."""
    meta: tuple = ()
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation, meta = args[0], meta + tuple(args[1:])
        elif origin is typing.Union or type(annotation).__name__ == "UnionType":
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation, meta  # a real union: not walked
            annotation = args[0]
        else:
            return annotation, meta


def _mark(meta: tuple, kind: type) -> Any:
    return next((m for m in meta if isinstance(m, kind)), None)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_annotation(field: Any) -> Any:
    # pydantic moves a field's own Annotated metadata off its annotation
    return typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _off(value: Any) -> bool:
    enabled = value.get("enabled", True) if isinstance(value, Mapping) else getattr(value, "enabled", True)
    return enabled is False


class _Walk:
    """One walk over a config: ``fn`` is called on every path value and returns its replacement."""

    def __init__(self, fn: Callable[[PathValue], str], skip_disabled: bool):
        self.fn = fn
        self.skip_disabled = skip_disabled

    def value(self, value: Any, annotation: Any, at: _At) -> Any:
        if value is None:
            return None
        annotation, meta = _unwrap(annotation)
        path = _mark(meta, DataPath)
        if path is not None and isinstance(value, str):
            return self.fn(PathValue(at.where, at.field, path, value)) if path.is_path(value) else value
        blocks = _mark(meta, StageBlocks)
        if blocks is not None and isinstance(value, Mapping):
            return self.mapping(value, lambda k: blocks.models.get(k), at, at.key)
        if _is_model(annotation):
            return self.model(value, annotation, at)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (list, tuple) and args and isinstance(value, (list, tuple)):
            new = [self.value(v, args[0], at.item(i, v)) for i, v in enumerate(value)]
            return value if all(a is b for a, b in zip(new, value)) else type(value)(new)
        if origin is dict and len(args) == 2 and isinstance(value, Mapping):
            return self.mapping(value, lambda _k: args[1], at, at.dict_key)
        return value

    def mapping(self, value: Mapping, annotation_of: Callable[[Any], Any], at: _At,
                step: Callable[[Any], _At]) -> Any:
        out, changed = {}, False
        for key, item in value.items():
            annotation = annotation_of(key)
            new = item if annotation is None else self.value(item, annotation, step(key))
            changed |= new is not item
            out[key] = new
        return out if changed else value

    def model(self, value: Any, cls: type, at: _At) -> Any:
        if self.skip_disabled and _off(value):
            return value
        if isinstance(value, Mapping):  # a raw block (a profile's): only the keys it sets
            return self.mapping(value, lambda k: _field_annotation(cls.model_fields[k]) if k in cls.model_fields
                                else None, at, at.key)
        update = {}
        for name, field in type(value).model_fields.items():
            item = getattr(value, name)
            new = self.value(item, _field_annotation(field), at.key(name))
            if new is not item:
                update[name] = new
        return value.model_copy(update=update) if update else value


def map_data_paths(config: BaseModel, fn: Callable[[PathValue], str], skip_disabled: bool = False) -> Any:
    """``config`` with every path value replaced by ``fn(path value)``; the parts without a change are the
    same objects. ``skip_disabled``: leave alone the blocks set ``enabled: false`` (nothing reads them)."""
    return _Walk(fn, skip_disabled).model(config, type(config), _At())


def data_paths(config: BaseModel, skip_disabled: bool = True) -> list[PathValue]:
    """Every path value in ``config``, in field order (a config's own blocks, then its profiles')."""
    found: list[PathValue] = []

    def note(pv: PathValue) -> str:
        found.append(pv)
        return pv.value

    map_data_paths(config, note, skip_disabled)
    return found


def path_fields(cls: type, where: str = "", _seen: tuple = ()) -> Iterator[tuple[str, DataPath]]:
    """Every path field a config model can hold, as a key pattern: ``[]`` is any list item, ``{}`` any
    dict key (``stages.quality.c4.bad_words.lists{}``, ``profiles{}.quality.classifiers[].model``)."""
    for name, field in cls.model_fields.items():
        yield from _fields_of(_field_annotation(field), f"{where}.{name}" if where else name, _seen + (cls,))


def _fields_of(annotation: Any, where: str, seen: tuple) -> Iterator[tuple[str, DataPath]]:
    annotation, meta = _unwrap(annotation)
    path = _mark(meta, DataPath)
    if path is not None:
        yield where, path
        return
    blocks = _mark(meta, StageBlocks)
    if blocks is not None:
        for stage, model in blocks.models.items():
            yield from path_fields(model, f"{where}.{stage}", seen)
        return
    if _is_model(annotation):
        if annotation not in seen:
            yield from path_fields(annotation, where, seen)
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple) and args:
        yield from _fields_of(args[0], f"{where}[]", seen)
    elif origin is dict and len(args) == 2:
        yield from _fields_of(args[1], f"{where}{{}}", seen)


def is_remote(path: str) -> bool:
    """A URL (gs://, s3://, pkg://, ...): read through Beam's filesystems, never checked on this machine."""
    return "://" in path
