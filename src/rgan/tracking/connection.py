"""Which tracking server, and failing fast when it cannot be reached.

The URI is MLFLOW_TRACKING_URI when set, else a SQLite file in the project root (the nearest directory up
from here holding dvc.yaml or .git), so `dvc repro` tracks runs with no server. Credentials
(MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/_PASSWORD) are read by MLflow from the environment; they
are never settings or code, and a user:password@ in the URI is kept out of messages and files.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from rgan.config import MlflowConfig
from rgan.errors import RganError

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def project_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "dvc.yaml").is_file() or (directory / ".git").exists():
            return directory
    return here


def default_tracking_uri() -> str:
    return f"sqlite:///{project_root() / DEFAULT_DB}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def is_embedded_default() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def redact(text: str) -> str:
    """`text` with any user:password@ of a URL in it removed, fit for logs and files."""
    return _USERINFO.sub("", text)


def _ssl_context() -> ssl.SSLContext | None:
    # The probe honours MLflow's own TLS settings, so it agrees with the client about the server.
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        return ssl._create_unverified_context()  # noqa: S323 - the user asked for it, as MLflow allows
    cafile = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=cafile) if cafile else None


def _check_reachable(uri: str, timeout: float) -> None:
    """One quick request to the server's /health, so a wrong URI fails in seconds instead of after MLflow's retries."""
    parts = urllib.parse.urlsplit(uri)
    try:
        bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        request = urllib.request.Request(bare.rstrip("/") + "/health")
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
        with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context()):  # noqa: S310 - http(s) only
            return
    except urllib.error.HTTPError:
        return  # it answered: a server (perhaps behind auth or without /health) is there
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RganError(
            f"MLflow tracking server {redact(uri)} is unreachable ({redact(str(reason))}). Start it, fix "
            "MLFLOW_TRACKING_URI, or unset it to track into the project's local mlflow.db"
        ) from None


def connect(cfg: MlflowConfig, create: bool = True):
    """Point MLflow at the tracking server (and registry), check it answers, and return an MlflowClient.
    With `create=False` (commands that only read), a missing embedded store is an error, not a new empty one."""
    # Bounded retries: MLflow's defaults (7 retries, 120 s timeout) make a dead server look like a hang.
    # Variables the user set win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(cfg.request_timeout_s, 1))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # bars for 100 kB files are noise in logs
    uri = tracking_uri()
    scheme = urllib.parse.urlsplit(uri).scheme
    if not create and is_embedded_default() and not (project_root() / DEFAULT_DB).is_file():
        raise RganError(
            f"no MLflow store here: {project_root() / DEFAULT_DB} does not exist. Run this in the project that "
            "trained the model, or set MLFLOW_TRACKING_URI to its tracking server"
        )
    if scheme in ("http", "https"):
        _check_reachable(uri, cfg.request_timeout_s)
    elif scheme in ("", "file"):
        raise RganError(
            f"MLFLOW_TRACKING_URI={redact(uri)} is a file store, which recent MLflow refuses and which has no "
            "model registry: use a database (sqlite:///mlflow.db) or a server (http://host:5000)"
        )

    import mlflow

    # The registry lives with the runs. (set_registry_uri also exports MLFLOW_REGISTRY_URI to child processes.)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_error(action: str, exc: Exception) -> RganError:
    """An MLflow or network failure as one readable line, credentials removed."""
    message = getattr(exc, "message", None) or str(exc)
    message = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return RganError(redact(f"{action} failed at {tracking_uri()}: {message}"))
