"""The one base class of errors a user can fix: the CLI prints the message as one line and exits 2."""
from __future__ import annotations

import importlib
import re
from typing import Iterator, Optional

# how a traceback's last line names an exception class: ``pilewright.tokenizer.hf.TokenizerSourceError: ...``
_QUALIFIED = re.compile(r"\b(pilewright(?:\.[A-Za-z_]\w*)+)\.([A-Za-z_]\w*):")


class UserError(Exception):
    """An error the user can fix (a config value, an input, a missing file): its message says what to fix."""


def user_error_classes() -> Iterator[type]:
    """Every subclass of ``UserError`` that is imported, depth first."""
    stack = list(UserError.__subclasses__())
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(cls.__subclasses__())


def _named_classes(text: str) -> Iterator[type]:
    """The ``UserError`` classes ``text`` names by their full name, their modules imported to know them: a
    worker's error can name a class whose module this process never imported."""
    for module, name in dict.fromkeys(_QUALIFIED.findall(text)):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, UserError):
            yield cls


def user_error_message(exc: Optional[BaseException]) -> Optional[str]:
    """The one-line message of a ``UserError`` in ``exc``'s chain, or None.

    A runner that moves work to other processes re-raises a worker's exception as text inside its own
    (``pilewright....TokenizerTrainingError: message [while running ...]``), so the chain is searched by class
    first, then for the classes the text names in full, then by the names of the imported ``UserError``
    classes: never by a list kept by hand.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UserError):
            return str(exc).split(" [while running", 1)[0]
        text = str(exc)
        for cls in (*_named_classes(text), *user_error_classes()):
            if f"{cls.__name__}:" in text:
                return text.split(f"{cls.__name__}:", 1)[-1].strip().splitlines()[0].split(" [while running", 1)[0]
        exc = exc.__cause__ or exc.__context__
    return None
