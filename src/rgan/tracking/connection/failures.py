"""MLflow and network failures as RganError: one readable line, credentials removed.

The tracking layer converts at its edge (`tracking_errors` around each entry point), so the CLI only ever
sees RganError; any other exception stays a bug with its traceback.
"""

from __future__ import annotations

import contextlib

from rgan.errors import RganError
from rgan.tracking.connection.redaction import redact
from rgan.tracking.connection.uri import tracking_uri


def first_line(exc: BaseException) -> str:
    message = (getattr(exc, "message", None) or str(exc)).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def tracking_error(action: str, exc: BaseException) -> RganError:
    """`exc`, an MLflow or network failure while doing `action`, as one line naming the tracking URI."""
    return RganError(redact(f"{action} failed at {tracking_uri()}: {first_line(exc)}"))


def is_tracking_failure(exc: BaseException) -> bool:
    """An error of MLflow or of the stack under it: HTTP to a server (requests' errors also are OSErrors, so
    this must come before any OSError handling), SQLAlchemy for a database store (say, a locked SQLite file)."""
    import requests
    import sqlalchemy.exc
    import urllib3
    from mlflow.exceptions import MlflowException

    return isinstance(exc, (MlflowException, requests.RequestException, urllib3.exceptions.HTTPError, sqlalchemy.exc.SQLAlchemyError))


@contextlib.contextmanager
def tracking_errors(action: str):
    """Context manager and decorator: an MLflow or network failure inside becomes `tracking_error(action, ...)`."""
    try:
        yield
    except RganError:
        raise
    except Exception as exc:
        if is_tracking_failure(exc):
            raise tracking_error(action, exc) from None
        raise
