"""The base of every config model, in a module of its own so stage config modules (``stages.mix``,
``stages.pii``, ...) can derive from it while ``config`` imports them: no import cycle either way round."""
from __future__ import annotations

import typing

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _kind(annotation) -> typing.Optional[str]:
    """``"number"`` for int/float (and Optional or constrained forms of them), ``"bool"`` for bool, else None.

    A union that admits both (``Union[bool, int]``) is neither: its field takes either on purpose.
    """
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        kinds = {_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _wrong_type(value: object, kind: typing.Optional[str]) -> typing.Optional[str]:
    """Why ``value`` may not stand where a ``kind`` is expected, or None. YAML gives real booleans and
    numbers; the lenient conversions (``true`` -> 1, ``"yes"`` -> True) would hide a mistake."""
    if kind == "number" and isinstance(value, bool):
        return "a boolean where a number is expected; write a number"
    if kind == "bool" and not isinstance(value, bool) and value is not None:
        return "expected true or false"
    return None


class Frozen(BaseModel):
    """Base of every config model: immutable, and unknown keys are errors (a typo never passes).

    Numeric keys refuse booleans (``num_shards: true`` is not one shard) and boolean keys refuse anything
    but ``true``/``false``, also as the values of a ``dict[str, float]`` or items of a ``list[int]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers_and_booleans(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is None:
            return value
        annotation = field.annotation
        why = _wrong_type(value, _kind(annotation))
        if why is None:
            origin, args = typing.get_origin(annotation), typing.get_args(annotation)
            if origin is dict and len(args) == 2 and isinstance(value, dict):
                for k, v in value.items():
                    why = _wrong_type(v, _kind(args[1]))
                    if why:
                        why = f"{k}: {why}"
                        break
            elif origin in (list, tuple) and args and isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    why = _wrong_type(v, _kind(args[0]))
                    if why:
                        why = f"[{i}]: {why}"
                        break
        if why is not None:
            raise ValueError(why)
        return value
