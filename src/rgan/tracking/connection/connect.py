"""Open the tracking store: check the URI, apply the HTTP settings, make sure the store is there, return a client."""

from __future__ import annotations

from rgan.config import MlflowConfig
from rgan.errors import RganError
from rgan.tracking.connection.failures import tracking_errors
from rgan.tracking.connection.http_settings import apply as apply_http_settings
from rgan.tracking.connection.probe import check_reachable
from rgan.tracking.connection.redaction import redact
from rgan.tracking.connection.root import project_root
from rgan.tracking.connection.uri import (
    DEFAULT_DB,
    is_embedded_default,
    sqlite_file,
    tracking_uri,
)
from rgan.tracking.connection.uri_check import validated_scheme


def connect(cfg: MlflowConfig, create: bool = True):
    """Point MLflow at the tracking server (and registry), check it answers, and return an MlflowClient.
    With `create=False` (commands that only read), a missing SQLite store is an error, not a new empty one."""
    apply_http_settings(cfg)
    uri = tracking_uri()
    scheme = validated_scheme(uri)
    if not create:
        _refuse_missing_store(uri)
    if scheme in ("http", "https"):
        check_reachable(uri)
    elif scheme in ("", "file"):
        raise RganError(
            f"MLFLOW_TRACKING_URI={redact(uri)} is a file store, which recent MLflow refuses and which has no "
            "model registry: use a database (sqlite:///mlflow.db) or a server (http://host:5000)"
        )

    import mlflow

    with tracking_errors("opening the tracking store"):  # e.g. a database from a newer MLflow
        # The registry lives with the runs. (set_registry_uri also exports MLFLOW_REGISTRY_URI to child processes.)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _refuse_missing_store(uri: str) -> None:
    """MLflow would create the directory and an empty database, and then report "no such model"."""
    if is_embedded_default() and not (project_root() / DEFAULT_DB).is_file():
        raise RganError(
            f"no MLflow store here: {project_root() / DEFAULT_DB} does not exist. Run this in the project that "
            "trained the model, or set MLFLOW_TRACKING_URI to its tracking server"
        )
    database = sqlite_file(uri)
    if database is not None and not database.is_file():
        raise RganError(
            f"no MLflow store exists at {database} (from MLFLOW_TRACKING_URI={redact(uri)}). Set "
            "MLFLOW_TRACKING_URI to the store that holds the runs, or unset it to use the project's mlflow.db"
        )
