"""The evaluate stage with MLflow around it: scores and plots go into the training's run."""

from __future__ import annotations

import time
from pathlib import Path

from rgan.config import Params
from rgan.errors import RganError
from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.failures import tracking_error
from rgan.tracking.runs import (
    RunRecord,
    log_metrics,
    open_recorded_run,
    record_settings,
)


def _logging_failed(files: list[Path], exc: Exception) -> RganError:
    detail = exc if isinstance(exc, RganError) else tracking_error("logging", exc)
    saved = ", ".join(str(f) for f in files)
    return RganError(f"evaluation finished and its outputs are saved ({saved}), but MLflow logging failed: {detail}. "
                     "Re-run `rgan evaluate` once the server answers")


def log_evaluation(client, record: RunRecord, params: Params, metrics: dict, metrics_path: Path, plots_dir: Path | None) -> None:
    from mlflow.entities import Metric

    record_settings(client, record.run_id, "evaluate", params.evaluate.model_dump())
    now = int(time.time() * 1000)
    values = []
    for name, value in metrics.items():
        if isinstance(value, dict) and "mean" in value:
            values += [Metric(f"eval/{name}", float(value["mean"]), now, 0, model_id=record.model_id),
                       Metric(f"eval/{name}_std", float(value["std"]), now, 0, model_id=record.model_id)]
        elif isinstance(value, bool):
            values.append(Metric(f"eval/{name}", float(value), now, 0, model_id=record.model_id))
    log_metrics(client, record.run_id, values)
    client.log_artifact(record.run_id, str(metrics_path), "eval")
    if plots_dir is not None and plots_dir.is_dir():
        client.log_artifacts(record.run_id, str(plots_dir), "plots")


def tracked_evaluate(params: Params, prepared_dir, generator_path, metrics_path, plots_dir, train_log, run_file, progress=None) -> dict:
    from rgan.evaluation.evaluate import evaluate

    client = connect(params.mlflow, create=False)
    record = open_recorded_run(client, run_file, generator_path)  # before minutes of scoring: the right run, there?
    metrics = evaluate(params, prepared_dir, generator_path, metrics_path, plots_dir, train_log, progress=progress)
    try:
        log_evaluation(client, record, params, metrics, Path(metrics_path), None if plots_dir is None else Path(plots_dir))
    except Exception as exc:
        raise _logging_failed([Path(metrics_path)] + ([Path(plots_dir)] if plots_dir is not None else []), exc) from None
    return metrics
