"""Studio settings, read from the environment once per app."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "faceveil"


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
    """

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    api_token: str | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    run_worker: bool = True

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
        values.update(overrides)
        return cls(**values)
