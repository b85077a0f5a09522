"""One alias move at a time on a local store: a file lock beside the SQLite database makes read-decide-move
atomic across processes of this machine. A server offers no lock (see registry._promote)."""

from __future__ import annotations

import contextlib

from rgan.tracking.connection.uri import sqlite_file, tracking_uri


@contextlib.contextmanager
def registry_lock(model_name: str):
    """Held while the aliases of `model_name` move; yields whether a lock is held at all."""
    from filelock import FileLock

    database = sqlite_file(tracking_uri())
    if database is None:
        yield False
        return
    with FileLock(f"{database}.{model_name}.lock"):
        yield True
