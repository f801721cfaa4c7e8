"""Studio settings, read from the environment once per app."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "faceveil"


def parse_pixels(text: str) -> int:
    """A pixel count: ``50000000``, or megapixels ``50MP`` / ``50M`` / ``12.5 mp``."""
    text = text.strip().lower().replace("_", "")
    scale = 1
    for unit in ("mp", "m"):
        if text.endswith(unit):
            text, scale = text[: -len(unit)].strip(), 1_000_000
            break
    value = int(float(text) * scale)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _number(var: str, text: str, parse):
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{var}={text[:40]!r} is not a valid number") from None


@dataclass(frozen=True)
class Settings:
    """Where the studio keeps its data and how it guards its routes.

    data_dir : database (SQLite by default), uploaded files, results and models
        (``FACEVEIL_DATA_DIR``).
    database_url : SQLAlchemy URL (``FACEVEIL_DATABASE_URL``); default SQLite in `data_dir`.
    api_token : when set (``FACEVEIL_API_TOKEN``), every API route and the UI need
        ``Authorization: Bearer <token>`` (the UI also takes a ``faceveil_token`` cookie).
    max_upload_bytes : larger uploads get 413 (``FACEVEIL_MAX_UPLOAD_MB``, default 200).
    cors_origins : allowed CORS origins (``FACEVEIL_CORS_ORIGINS``, comma-separated); none by
        default, so CORS is off.
    run_worker : start the in-process job worker with the app (tests may turn it off).
    max_pixels : larger images (width x height, read from the header before decoding) get 413,
        and are rejected from dataset imports (``FACEVEIL_MAX_PIXELS``: a pixel count, or
        megapixels such as ``50MP``; default 50 MP).
    max_heavy_requests : image and model routes running at once; one more gets 503 with
        ``Retry-After`` (``FACEVEIL_MAX_HEAVY_REQUESTS``, default 4; 0: no limit).
    allowed_hosts : ``Host`` names accepted besides this server's own address and
        localhost/127.0.0.1/::1 (``FACEVEIL_ALLOWED_HOSTS``, comma-separated; ``*``: any).
    result_retention_hours : stored results (of the image routes, finished jobs) older than
        this are deleted at startup and then hourly as results are written
        (``FACEVEIL_RESULT_RETENTION_HOURS``, default 24; 0: keep forever).
    body_timeout_s : a request body that sends nothing for this long gets 408
        (``FACEVEIL_BODY_TIMEOUT``, seconds, default 30).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    api_token: str | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    run_worker: bool = True
    max_pixels: int = 50_000_000
    max_heavy_requests: int = 4
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    result_retention_hours: float = 24.0
    body_timeout_s: float = 30.0

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'faceveil.db'}"

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        values: dict = {}
        if env.get("FACEVEIL_DATA_DIR"):
            values["data_dir"] = Path(env["FACEVEIL_DATA_DIR"]).expanduser()
        if env.get("FACEVEIL_DATABASE_URL"):
            values["database_url"] = env["FACEVEIL_DATABASE_URL"]
        if env.get("FACEVEIL_API_TOKEN"):
            values["api_token"] = env["FACEVEIL_API_TOKEN"]
        if env.get("FACEVEIL_MAX_UPLOAD_MB"):
            values["max_upload_bytes"] = int(float(env["FACEVEIL_MAX_UPLOAD_MB"]) * 1024 * 1024)
        if env.get("FACEVEIL_CORS_ORIGINS"):
            origins = (o.strip() for o in env["FACEVEIL_CORS_ORIGINS"].split(","))
            values["cors_origins"] = tuple(o for o in origins if o)
        if env.get("FACEVEIL_ALLOWED_HOSTS"):
            hosts = (h.strip().lower() for h in env["FACEVEIL_ALLOWED_HOSTS"].split(","))
            values["allowed_hosts"] = tuple(h for h in hosts if h)
        numbers = (
            ("FACEVEIL_MAX_PIXELS", "max_pixels", parse_pixels),
            ("FACEVEIL_MAX_HEAVY_REQUESTS", "max_heavy_requests", int),
            ("FACEVEIL_RESULT_RETENTION_HOURS", "result_retention_hours", float),
            ("FACEVEIL_BODY_TIMEOUT", "body_timeout_s", float),
        )
        for var, name, parse in numbers:
            if env.get(var):
                values[name] = _number(var, env[var], parse)
        values.update(overrides)
        return cls(**values)
