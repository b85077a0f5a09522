"""The train stage with MLflow around it, and `rgan log`; the DVC stage and the CLI call these.

Local outputs always come first: a tracking failure after training leaves every file written and says how
to log them later, so hours of GPU time are never lost to a server outage.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from rgan.config import Params, own_settings, parse_params
from rgan.errors import RganError
from rgan.tracking import lineage
from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.failures import tracking_error, tracking_errors
from rgan.tracking.runs import (
    PENDING_RUN_NAME,
    LiveMetrics,
    RunRecord,
    end_run,
    file_sha256,
    last_logged_step,
    log_metrics,
    open_run,
    train_log_metrics,
)
from rgan.training.trainer import CHECKPOINT_NAME, TrainingInterrupted, TrainPaths


def lineage_tags(params: Params, prepared_dir: str | Path, device: str) -> dict[str, str]:
    git = lineage.git_info()
    software = lineage.software()
    return {
        "rgan.dataset": params.mlflow.dataset or Path(params.data.path).name.split(".")[0],
        "rgan.data_path": params.data.path,
        "rgan.data_md5": lineage.dvc_md5(prepared_dir),
        "rgan.git_commit": git["commit"],
        "rgan.git_dirty": git["dirty"],
        "rgan.device": device,
        "rgan.version": software["rgan"],
        "rgan.torch_version": software["torch"],
        "rgan.python_version": software["python"],
    }


MAX_TAG_CHARS = 5000  # MLflow's limit on a tag value is 8000 (5000 on some servers)


def _read_log(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _run_name(params: Params, tags: dict) -> str:
    m = params.model
    return f"{tags['rgan.dataset']}-{m.cell}{m.hidden}x{m.layers}-{params.train.loss}-{params.train.steps}"


def _finish_training(client, record: RunRecord, paths: TrainPaths, pending: Path, run_file: Path) -> RunRecord:
    """Send what the run lacks (metrics, summary, log files, the model); then write the run file."""
    from mlflow.entities import Metric

    from rgan.tracking.model import log_generator

    rows = _read_log(paths.log)
    log_metrics(client, record.run_id, train_log_metrics(rows, after_step=last_logged_step(client, record.run_id)))
    summary = json.loads(paths.metrics.read_text())
    final_step = int(summary["steps"])
    now = int(time.time() * 1000)
    client.log_batch(
        record.run_id,
        metrics=[
            Metric("train/wall_time_s", float(summary["wall_time_s"]), now, final_step),
            Metric("train/mean_steps_per_s", float(summary["steps_per_s"]), now, final_step),
            # the generator shipped (train.keep): the step of its weights, and its validation context-FID
            *([Metric("train/generator_step", float(summary["generator_step"]), now, final_step)]
              if summary.get("generator_step") is not None else []),
            *([Metric("train/generator_val_context_fid", float(summary["val_context_fid"]), now, final_step)]
              if summary.get("val_context_fid") is not None else []),
        ],
    )
    client.log_artifact(record.run_id, str(paths.log), "train")
    client.log_artifact(record.run_id, str(paths.metrics), "train")
    for key, value in health_tags(summary).items():
        client.set_tag(record.run_id, key, value)
    metadata = {"run_id": record.run_id, "trained_steps": final_step, "generator_step": int(summary.get("generator_step", final_step)),
                "data_md5": record.tags.get("rgan.data_md5", "")}
    record.model_uri, record.model_id = log_generator(record.run_id, paths.generator, metadata)
    record.generator_sha256 = file_sha256(paths.generator)
    record.write(pending)
    record.write(run_file)
    return record


def health_tags(summary: dict) -> dict[str, str]:
    """The discriminator's health on the run: its final state and every warning training gave."""
    warnings = summary.get("health_warnings") or []
    tags = {"rgan.discriminator_state": str(summary.get("d_state", "unknown")),
            "rgan.health_warnings": str(len(warnings))}
    if warnings:
        tags["rgan.health_warning"] = "\n".join(warnings)[:MAX_TAG_CHARS]
    return tags


def _logging_failed(what: str, files: list[Path], exc: Exception, retry: str) -> RganError:
    saved = ", ".join(str(f) for f in files)
    detail = exc if isinstance(exc, RganError) else tracking_error("logging", exc)
    return RganError(f"{what} finished and its outputs are saved ({saved}), but MLflow logging failed: {detail}. {retry}")


def tracked_train(
    params: Params, prepared_dir: str | Path, paths: TrainPaths, run_file: str | Path, resume: bool = False,
    progress: bool | None = None, extra_tags: dict[str, str] | None = None,
) -> dict:
    """Train with an MLflow run around it. extra_tags: more lineage (the cluster pipeline's data source)."""
    from rgan.training.trainer import load_training_data, output_lock

    run_file = Path(run_file)
    load_training_data(params, prepared_dir)  # a clear error for missing or damaged data before anything else
    client = connect(params.mlflow)  # fails in seconds, before any training or output, when the server is unreachable
    with output_lock(paths, extra_outputs=(run_file,)):
        return _tracked_train(client, params, prepared_dir, paths, run_file, resume, progress, extra_tags)


def untracked_train(params: Params, prepared_dir: str | Path, paths: TrainPaths, run_file: str | Path, resume: bool = False,
                    progress: bool | None = None) -> dict:
    """Train without MLflow (`--no-mlflow`). The run file goes, as in a tracked training: it would describe the
    previous generator, not this one."""
    from rgan.training.trainer import load_training_data, output_lock, train

    run_file = Path(run_file)
    load_training_data(params, prepared_dir)  # a clear error for missing or damaged data before anything else
    with output_lock(paths, extra_outputs=(run_file,)):
        run_file.unlink(missing_ok=True)
        return train(params, prepared_dir, paths, resume=resume, progress=progress, lock=False)


def _tracked_train(client, params: Params, prepared_dir, paths: TrainPaths, run_file: Path, resume: bool, progress, extra_tags) -> dict:
    from rgan.device import resolve_device
    from rgan.training.trainer import train

    run_file.unlink(missing_ok=True)  # a run file must never outlive the generator it describes
    tags = lineage_tags(params, prepared_dir, str(resolve_device(params.train.device))) | (extra_tags or {})
    pending = paths.checkpoints / PENDING_RUN_NAME
    with tracking_errors("starting the MLflow run"):
        record = open_run(client, params, tags, pending, continue_run=resume, run_name=_run_name(params, tags))
        logged_up_to = last_logged_step(client, record.run_id)  # a resumed run already has these steps
    # From here on no MLflow call may stop training: live metrics only warn, and the files come first.
    print(f"MLflow run {record.run_id} in experiment '{record.experiment}' at {record.tracking_uri}", file=sys.stderr)

    live = LiveMetrics(client, record.run_id, after_step=logged_up_to)
    try:
        summary = train(params, prepared_dir, paths, resume=resume, progress=progress, on_log=live, lock=False)
    except BaseException as exc:
        live.flush()
        interrupted = isinstance(exc, (TrainingInterrupted, KeyboardInterrupt, SystemExit))
        end_run(client, record.run_id, "KILLED" if interrupted else "FAILED")
        raise
    try:
        _finish_training(client, record, paths, pending, run_file)
    except Exception as exc:
        end_run(client, record.run_id, "FAILED")
        raise _logging_failed(
            "training", [paths.generator, paths.checkpoints, paths.log, paths.metrics], exc,
            "Once the server answers, `rgan log` (with the same paths) logs them into the same run",
        ) from None
    summary["mlflow_run_id"] = record.run_id
    return summary


def log_training(params: Params, paths: TrainPaths, run_file: str | Path, prepared_dir: str | Path | None = None) -> RunRecord:
    """`rgan log`: log a finished training's files, into its run when that run exists at this server."""
    from rgan.training.trainer import output_lock

    with output_lock(paths, extra_outputs=(Path(run_file),)):
        return _log_training(params, paths, run_file, prepared_dir)


def _log_training(params: Params, paths: TrainPaths, run_file: str | Path, prepared_dir: str | Path | None) -> RunRecord:
    from rgan.training import checkpoint

    Path(run_file).unlink(missing_ok=True)
    for required in (paths.generator, paths.log, paths.metrics):
        if not Path(required).is_file():
            raise RganError(f"{required} not found: `rgan log` logs a finished training's outputs")
    saved = checkpoint.load(paths.checkpoints / CHECKPOINT_NAME, checkpoint.CHECKPOINT_FORMAT)
    recorded, kind = saved["params"], saved["params"]["model"].get("kind", "rgan")
    trained_with = parse_params({**recorded, "model": own_settings("model", recorded["model"], kind),
                                 "train": own_settings("train", recorded["train"], kind),
                                 "mlflow": params.mlflow.model_dump()}, f"the settings recorded in {paths.checkpoints / CHECKPOINT_NAME}")
    client = connect(params.mlflow)
    pending = paths.checkpoints / PENDING_RUN_NAME
    if pending.is_file():
        tags = RunRecord.read(pending).tags  # lineage as it was at training time
    else:
        if prepared_dir is None or not Path(prepared_dir).is_dir():
            raise RganError("no record of the training's run: pass --prepared DIR (the data it trained on) to record its hash")
        tags = lineage_tags(trained_with, prepared_dir, "unknown")
    with tracking_errors("logging the training run"):
        record = open_run(client, trained_with, tags, pending, continue_run=True, run_name=_run_name(trained_with, tags))
        record = _finish_training(client, record, paths, pending, Path(run_file))
        client.set_terminated(record.run_id, status="FINISHED")
    return record
