"""Which tracking URI: MLFLOW_TRACKING_URI when set, else a SQLite file in the project root, so `dvc repro`
tracks runs with no server."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from rgan.tracking.connection.root import project_root

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"


def default_tracking_uri() -> str:
    return f"sqlite:///{project_root() / DEFAULT_DB}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def is_embedded_default() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite:///path URI (relative to the working directory, as SQLAlchemy reads it),
    or None for another URI or an in-memory database."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower().split("+")[0] != "sqlite" or not rest.startswith("/"):
        return None
    database = urllib.parse.unquote(rest[1:].split("?", 1)[0])
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)
