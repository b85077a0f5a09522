"""Fetch a generator file from an MLflow model URI (models:/name@alias, models:/name/3, runs:/id/generator)."""

from __future__ import annotations

from pathlib import Path

from rgan.errors import RganError
from rgan.tracking.generator_model import GENERATOR_ARTIFACT


def download_generator(model_uri: str, dst: str | Path) -> Path:
    """Download the model's generator file into `dst` and return its path (loaded later with weights_only=True)."""
    import mlflow

    from rgan.config import MlflowConfig
    from rgan.tracking.connection.connect import connect
    from rgan.tracking.connection.failures import tracking_errors

    connect(MlflowConfig(), create=False)
    try:
        with tracking_errors(f"fetching {model_uri}"):
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
            conf = mlflow.models.Model.load(str(local))
    except OSError as exc:  # the local side: a full disk, no permission (network errors are converted above)
        raise RganError(f"fetching {model_uri} failed: {exc}") from None
    artifacts = (conf.flavors.get("python_function") or {}).get("artifacts") or {}
    relative = (artifacts.get(GENERATOR_ARTIFACT) or {}).get("path")
    if not relative:
        raise RganError(f"{model_uri} is not an rgan generator model (no '{GENERATOR_ARTIFACT}' artifact)")
    return local / relative
