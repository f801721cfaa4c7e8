"""Exceptions. Every message is one line a user can act on."""


class FaceveilError(Exception):
    """Base class of faceveil's own errors."""


class InputError(FaceveilError, ValueError):
    """An input is unreadable, corrupt, empty or of a kind faceveil does not handle."""


class ModelNotFoundError(FaceveilError, ImportError):
    """A package that carries model weights is not installed."""


class OutputError(FaceveilError, OSError):
    """An output cannot be written, or would overwrite an input."""
