"""The register stage: the run's generator into the registry with its evaluation scores, and the `registry`
settings it was judged by onto the run."""

from __future__ import annotations

import json
from pathlib import Path

from rgan.atomic import write_json
from rgan.config import Params
from rgan.errors import RganError
from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.failures import tracking_errors
from rgan.tracking.registry import register
from rgan.tracking.runs import open_recorded_run, record_settings


def register_stage(params: Params, run_file: str | Path, metrics_path: str | Path, out: str | Path | None) -> dict:
    client = connect(params.mlflow, create=False)
    record = open_recorded_run(client, run_file)
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        raise RganError(f"evaluation scores not found: {metrics_path} (written by `rgan evaluate`)")
    eval_metrics = json.loads(metrics_path.read_text())
    result = register(client, params.registry, record, eval_metrics)
    with tracking_errors("recording the registry settings on the run"):
        record_settings(client, record.run_id, "registry", params.registry.model_dump())
    if out is not None:
        write_json(out, result)
    return result
