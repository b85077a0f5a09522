"""MLflow's HTTP client settings from the params' `mlflow` section, as the environment variables MLflow reads
at each request (child processes, such as kfp.local steps, inherit them)."""

from __future__ import annotations

import os

from rgan.config import MlflowConfig


def apply(cfg: MlflowConfig) -> None:
    # Bounded retries: MLflow's defaults (7 retries, 120 s timeout) make a dead server look like a hang.
    # Variables the user set win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(cfg.request_timeout_s, 1))))  # MLflow reads an int
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # bars for 100 kB files are noise in logs
