"""Which tracking server, and failing fast when it cannot be reached.

The URI is MLFLOW_TRACKING_URI when set, else a SQLite file in the working directory (the project root under
DVC), so `dvc repro` tracks runs with no server. Credentials (MLFLOW_TRACKING_TOKEN, ..._USERNAME/_PASSWORD)
are read by MLflow from the environment; they are never settings or code.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

from rgan.config import MlflowConfig
from rgan.errors import RganError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def redact(uri: str) -> str:
    """The URI without any user:password@ part, fit for logs and files."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def _check_reachable(uri: str, timeout: float) -> None:
    """One quick request to the server's /health, so a wrong URI fails in seconds instead of after MLflow's retries."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - http(s) only, checked by the caller
            return
    except urllib.error.HTTPError:
        return  # it answered: a server (perhaps behind auth or without /health) is there
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RganError(
            f"MLflow tracking server {redact(uri)} is unreachable ({reason}). Start it, fix MLFLOW_TRACKING_URI, "
            f"or unset it to track into the local {DEFAULT_TRACKING_URI}"
        ) from None


def connect(cfg: MlflowConfig):
    """Point MLflow at the tracking server (and registry), check it answers, and return an MlflowClient."""
    # Bounded retries: MLflow's defaults (7 retries, 120 s timeout) make a dead server look like a hang.
    # Variables the user set win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(cfg.request_timeout_s, 1))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # bars for 100 kB files are noise in logs
    uri = tracking_uri()
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme in ("http", "https"):
        _check_reachable(uri, cfg.request_timeout_s)
    elif scheme in ("", "file"):
        raise RganError(
            f"MLFLOW_TRACKING_URI={uri}: MLflow no longer supports a file store; use a database "
            f"({DEFAULT_TRACKING_URI}) or a server (http://host:5000)"
        )

    import mlflow

    # The registry lives with the runs. (set_registry_uri also exports MLFLOW_REGISTRY_URI to child processes.)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_error(action: str, exc: Exception) -> RganError:
    """An MLflow or network failure as one readable line."""
    message = getattr(exc, "message", None) or str(exc)
    message = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return RganError(f"{action} failed at {redact(tracking_uri())}: {message}")
