"""(being written) The store: database session factory + content-addressed files; the worker."""


class _Store:
    def close(self) -> None:
        return None


def open_store(settings):
    return _Store()


def start_worker(store):
    return None
