"""The one base class of errors a user can fix: the CLI prints the message as one line and exits 2."""
from __future__ import annotations

from typing import Iterator, Optional


class UserError(Exception):
    """An error the user can fix (a config value, an input, a missing file): its message says what to fix."""


def user_error_classes() -> Iterator[type]:
    """Every subclass of ``UserError`` that is imported, depth first."""
    stack = list(UserError.__subclasses__())
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(cls.__subclasses__())


def user_error_message(exc: Optional[BaseException]) -> Optional[str]:
    """The one-line message of a ``UserError`` in ``exc``'s chain, or None.

    A runner that moves work to other processes re-raises a worker's exception as text inside its own
    (``...TokenizerTrainingError: message [while running ...]``), so the chain is searched by class first and
    then by the names of the ``UserError`` classes, never by a list kept by hand.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UserError):
            return str(exc).split(" [while running", 1)[0]
        text = str(exc)
        for cls in user_error_classes():
            if f"{cls.__name__}:" in text:
                return text.split(f"{cls.__name__}:", 1)[-1].strip().splitlines()[0].split(" [while running", 1)[0]
        exc = exc.__cause__ or exc.__context__
    return None
