"""Exceptions. Every message is one line a user can act on."""


class FaceveilError(Exception):
    """Base class of faceveil's own errors."""


class InputError(FaceveilError, ValueError):
    """An input is unreadable, corrupt, empty or of a kind faceveil does not handle."""


class ModelNotFoundError(FaceveilError, ImportError):
    """A package that carries model weights is not installed."""


class OutputError(FaceveilError, OSError):
    """An output cannot be written, or would overwrite an input."""


def failure_line(src: object, exc: BaseException) -> str:
    """The one line that reports why input `src` failed, naming it once."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return message if str(src) in message else f"{src}: {message}"
