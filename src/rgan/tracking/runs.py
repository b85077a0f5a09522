"""One MLflow run per training: params, lineage tags, per-step metrics, the generator model; then evaluation.

The run's identity travels between stages in a small JSON file (the run file, a DVC output of `train`).
A copy in the checkpoint directory, written when the run starts, lets `rgan train --resume` and `rgan log`
continue the same run after an interruption or a logging failure.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rgan.atomic import write_json
from rgan.config import Params
from rgan.errors import RganError
from rgan.tracking.connection.failures import tracking_error
from rgan.tracking.connection.redaction import redact
from rgan.tracking.connection.root import project_root
from rgan.tracking.connection.uri import (
    DEFAULT_ARTIFACTS,
    is_embedded_default,
    tracking_uri,
)

PENDING_RUN_NAME = "mlflow_run.json"  # in the checkpoint directory
# Logged as the train run's params: what train reads (rgan.stages.TRAIN.params: model, train, mlflow), and the data
# settings that made its prepared data (lineage: prepare has no run of its own). `evaluate` and `register` record
# theirs as tags (record_settings).
TRAIN_SECTIONS = ("data", "model", "train", "mlflow")
MODEL_NAME_IN_RUN = "generator"
# Every numeric column of the training log is a metric (the trainer and each kind's objective own the columns), but
# these: the x axis, and wall-clock time (it says nothing of the model and differs between identical runs).
NOT_METRICS = ("step", "elapsed_s")
# MLflow caps one log_batch call at 1000 metrics.
BATCH = 1000


@dataclass
class RunRecord:
    run_id: str
    experiment_id: str
    experiment: str
    tracking_uri: str
    tags: dict[str, str] = field(default_factory=dict)  # lineage, copied onto registered versions
    model_uri: str | None = None
    model_id: str | None = None
    generator_sha256: str | None = None  # the generator file the model was logged from

    def write(self, path: str | Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def read(cls, path: str | Path) -> "RunRecord":
        path = Path(path)
        if not path.is_file():
            raise RganError(f"MLflow run file not found: {path} (written by `rgan train`; --no-mlflow skips tracking)")
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise RganError(f"{path} is not an rgan MLflow run file: {exc}") from None


def flatten(params: dict, prefix: str = "") -> dict[str, str]:
    """{"train": {"g_lr": 0.001}} -> {"train.g_lr": "0.001"}: MLflow params are flat strings."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)
    return out


def record_settings(client, run_id: str, section: str, settings: dict) -> None:
    """A scoring stage's settings on the run as tags (`evaluate.repeats`, `registry.metric`, ...), replacing those
    of the scoring before. Tags, not params: the same run is scored again after a settings change, and MLflow
    params are write-once."""
    from mlflow.entities import RunTag

    tags = flatten({section: settings})
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    for key in client.get_run(run_id).data.tags:
        if key.startswith(f"{section}.") and key not in tags:  # a setting gone since (a gate removed, say)
            client.delete_tag(run_id, key)


def experiment_id(client, name: str) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise RganError(f"MLflow experiment '{name}' is deleted: restore it in the UI or choose another mlflow.experiment")
        return found.experiment_id
    # The embedded store keeps artifacts beside its database, wherever the command runs from.
    location = (project_root() / DEFAULT_ARTIFACTS).as_uri() if is_embedded_default() else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created meanwhile by a concurrent run
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _run_exists(client, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException:
        return False


def open_run(client, params: Params, tags: dict[str, str], pending: Path, continue_run: bool, run_name: str | None = None) -> RunRecord:
    """Start a run (or, with `continue_run`, reopen the one recorded in `pending`), log params and lineage tags."""
    from mlflow.entities import Param, RunTag

    uri = redact(tracking_uri())
    record = None
    if continue_run and pending.is_file():
        saved = RunRecord.read(pending)
        if saved.tracking_uri == uri and _run_exists(client, saved.run_id):
            record = saved
            client.update_run(record.run_id, status="RUNNING")
    flat = flatten(params.model_dump(include=set(TRAIN_SECTIONS)))
    if record is None:
        exp = experiment_id(client, params.mlflow.experiment)
        run = client.create_run(exp, tags={"mlflow.source.name": "rgan train", "mlflow.source.type": "LOCAL"}, run_name=run_name)
        record = RunRecord(run.info.run_id, exp, params.mlflow.experiment, uri, dict(tags))
        new_params = flat
    else:
        # MLflow params are write-once: on resume log only new keys, and note changed ones (e.g. train.steps) as tags.
        logged = client.get_run(record.run_id).data.params
        new_params = {k: v for k, v in flat.items() if k not in logged}
        tags = {**tags, **{f"rgan.resumed.{k}": v for k, v in flat.items() if k in logged and logged[k] != v}}
        record.tags.update({k: v for k, v in tags.items() if not k.startswith("rgan.resumed.")})
    items = list(new_params.items())
    for begin in range(0, len(items), 100):
        client.log_batch(record.run_id, params=[Param(k, v) for k, v in items[begin : begin + 100]])
    all_tags = {**tags, "mlflow.source.git.commit": tags.get("rgan.git_commit", "")}
    client.log_batch(record.run_id, tags=[RunTag(k, str(v)) for k, v in all_tags.items() if v])
    record.write(pending)
    return record


def _metric(key: str, value: float, step: int, timestamp: int):
    from mlflow.entities import Metric

    return Metric(key, float(value), timestamp, int(step))


def train_log_metrics(rows: list[dict], after_step: int = 0) -> list:
    now = int(time.time() * 1000)
    out = []
    for row in rows:
        step = int(float(row["step"]))
        if step <= after_step:
            continue
        for name, text in row.items():
            value = _number(text)
            if name not in NOT_METRICS and value is not None and value == value:  # NaN: not in this phase
                out.append(_metric(f"train/{name}", value, step, now))
    return out


def _number(text) -> float | None:
    # a text column (the discriminator's state) or an empty cell is not a metric
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def log_metrics(client, run_id: str, metrics: list) -> None:
    for begin in range(0, len(metrics), BATCH):
        client.log_batch(run_id, metrics=metrics[begin : begin + BATCH])


def last_logged_step(client, run_id: str) -> int:
    history = client.get_metric_history(run_id, "train/g_loss")
    return max((m.step for m in history), default=0)


class LiveMetrics:
    """Sends training rows to the run every few seconds. A failure warns once and stops live logging:
    training goes on, and the final logging (or `rgan log`) sends what is missing."""

    def __init__(self, client, run_id: str, after_step: int = 0, every_s: float = 10.0):
        self.client, self.run_id, self.every_s = client, run_id, every_s
        self.after_step = after_step  # a resumed run re-trains steps the run may already have
        self.buffer: list[dict] = []
        self.last_flush = time.monotonic()
        self.failed = False

    def __call__(self, row: dict) -> None:
        if self.failed:
            return
        self.buffer.append(row)
        if time.monotonic() - self.last_flush >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if self.failed or not self.buffer:
            return
        try:
            log_metrics(self.client, self.run_id, train_log_metrics(self.buffer, self.after_step))
            self.buffer.clear()
        except Exception as exc:  # noqa: BLE001 - any logging failure must not stop training
            self.failed = True
            print(f"warning: live metric logging to MLflow stopped ({tracking_error('logging', exc)}); training goes on", file=sys.stderr)
        self.last_flush = time.monotonic()


def end_run(client, run_id: str, status: str) -> None:
    """Best effort: used on the way out of a failure, where the server may be the thing that failed."""
    try:
        client.set_terminated(run_id, status=status)
    except Exception:  # noqa: BLE001
        pass


def file_sha256(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_recorded_run(client, run_file: str | Path, generator: str | Path | None = None) -> RunRecord:
    """The run `run_file` names, checked: at this tracking URI, present, and (given `generator`) of that file."""
    from mlflow.exceptions import MlflowException

    record = RunRecord.read(run_file)
    if generator is not None and Path(generator).is_file() and record.generator_sha256 != file_sha256(generator):
        raise RganError(
            f"{run_file} belongs to another generator than {generator} (was it retrained with --no-mlflow, or did its "
            "logging fail?): retrain with tracking, or log it with `rgan log`"
        )
    here = redact(tracking_uri())
    if record.tracking_uri != here:
        raise RganError(
            f"{run_file} names run {record.run_id} at {record.tracking_uri}, but the tracking URI is now {here}: "
            "set MLFLOW_TRACKING_URI to where the model was trained, or retrain"
        )
    try:
        client.get_run(record.run_id)
    except MlflowException as exc:
        raise RganError(
            f"run {record.run_id} from {run_file} is not in {here} ({tracking_error('lookup', exc)}); "
            "was the tracking database replaced? Retrain (`dvc repro --force train`) to create a new run"
        ) from None
    return record
