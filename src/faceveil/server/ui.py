"""(being written) The web UI: server templates and small JS modules."""


def install(app) -> None:
    return None
