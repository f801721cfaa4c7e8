"""(being written) JSON errors with the right status."""


def install(app) -> None:
    return None
