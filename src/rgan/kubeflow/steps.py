"""What each Kubeflow component runs: adapters from KFP's parameters and artifacts to the stage functions the DVC
stages call (prepare, tracked_train, tracked_evaluate, register_stage). The components in components/ only call these.

Artifacts are KFP's objects (anything with .path and .metadata). Settings arrive as the params document (the
pipeline parameter `params`, JSON) and are validated here, like params.yaml is.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from rgan.errors import RganError
from rgan.kubeflow.document import parse_configuration, parse_document
from rgan.stages import EVALUATE, TRAIN

# Files inside a generator (Model) artifact directory: the same files the DVC stages write (the stage contract).
GENERATOR = TRAIN.file_name("--generator")
RUN_FILE = TRAIN.file_name("--run-file")
TRAIN_LOG = TRAIN.file_name("--log")
TRAIN_SUMMARY = TRAIN.file_name("--metrics")
EVAL_SCORES = EVALUATE.file_name("--metrics")
PLOTS = EVALUATE.file_name("--plots")


def clean_errors(step):
    """A user's error (bad params, missing data, tracking server down) ends the component with one line, like the
    CLI, instead of a traceback through KFP's executor."""

    @functools.wraps(step)
    def run(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except RganError as exc:
            raise SystemExit(f"rgan {step.__name__.removesuffix('_step')}: error: {exc}") from None

    return run


def require_tracking_server() -> None:
    # On a cluster the embedded sqlite default would vanish with the pod: insist on the secret's server.
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise RganError("MLFLOW_TRACKING_URI is not set: create the MLflow secret named in kubeflow.mlflow_secret (see README)")


@clean_errors
def prepare_step(document: str, prepared) -> None:
    from rgan.data.prepare import prepare
    from rgan.kubeflow.source import fetch
    from rgan.tracking.lineage import dvc_md5

    params = parse_document(document)
    with tempfile.TemporaryDirectory() as scratch:
        local, record = fetch(params.kubeflow.source, params.data.path, scratch)
        stats = prepare(params.data.model_copy(update={"path": str(local)}), prepared.path, source=params.data.path)
    prepared.metadata.update({
        "source": record,
        "rows": stats["rows"],
        "columns": stats["columns"],
        "windows": stats["windows"],
        "data_md5": dvc_md5(prepared.path),
    })


def source_tags(prepared_metadata: dict) -> dict[str, str]:
    """The data version a pipeline used, as MLflow tags: rgan.source.repo/rev/commit/path or uri, and md5."""
    return {f"rgan.source.{k}": str(v) for k, v in prepared_metadata.get("source", {}).items()}


@clean_errors
def train_step(document: str, configuration: str, trial: bool, prepared, generator) -> None:
    from rgan.tracking.runs import RunRecord
    from rgan.tracking.train_stage import tracked_train
    from rgan.training.trainer import TrainPaths

    require_tracking_server()
    params = parse_document(document)
    overrides = parse_configuration(configuration)
    if overrides:
        params = params.with_overrides(overrides)
    if trial:  # a sweep trial: as long as `rgan tune` trains one
        params = params.with_overrides({"train": {"steps": params.tune.steps}})
    out = Path(generator.path)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as checkpoints:  # no resume across pods: checkpoints stay in the pod
        paths = TrainPaths(out / GENERATOR, Path(checkpoints), out / TRAIN_LOG, out / TRAIN_SUMMARY)
        summary = tracked_train(params, prepared.path, paths, out / RUN_FILE, extra_tags=source_tags(prepared.metadata))
    record = RunRecord.read(out / RUN_FILE)
    generator.metadata.update({
        "mlflow_run_id": record.run_id,
        "mlflow_model_uri": record.model_uri or "",
        "configuration": configuration,  # JSON text: KFP metadata would turn its whole numbers into floats
        "steps": summary["steps"],
        "generator_step": summary["generator_step"],  # the step whose weights were shipped (train.keep)
        "steps_per_s": summary["steps_per_s"],
        "device": summary["device"],
        "d_state": summary["d_state"],
    })
    if trial:
        from rgan.data.prepare import load_prepared
        from rgan.tuning import validation

        data = load_prepared(prepared.path)
        floors = validation.floor_scores(params, data, params.tune.repeats)
        generator.metadata["validation"] = validation.score(params, data, out / GENERATOR, floors)


def flat_scores(eval_metrics: dict) -> dict[str, float | bool]:
    """evaluate's scores as name -> value (means), with name_std beside them; booleans stay booleans."""
    out: dict[str, float | bool] = {}
    for name, value in eval_metrics.items():
        if isinstance(value, dict) and "mean" in value:
            out[name] = float(value["mean"])
            out[f"{name}_std"] = float(value["std"])
        elif isinstance(value, bool):
            out[name] = value
    return out


@clean_errors
def evaluate_step(document: str, prepared, generator, scores, report, evaluated) -> None:
    from rgan.kubeflow.report import render
    from rgan.tracking.evaluate_stage import tracked_evaluate

    require_tracking_server()
    params = parse_document(document)
    out = Path(evaluated.path)
    shutil.copytree(generator.path, out)  # the generator travels on with its scores, for selection and registration
    metrics = tracked_evaluate(params, prepared.path, out / GENERATOR, out / EVAL_SCORES, out / PLOTS, out / TRAIN_LOG, out / RUN_FILE)
    values = flat_scores(metrics)
    for name, value in values.items():
        scores.log_metric(name, float(value))
    run_id = generator.metadata.get("mlflow_run_id", "")
    Path(report.path).write_text(render(f"rgan evaluation, MLflow run {run_id}", values, out / PLOTS))
    evaluated.metadata.update({**generator.metadata, "scores": values})


@clean_errors
def select_step(candidates: list, leaderboard) -> str:
    """The sweep's fan-in: the settings (JSON) of the best trial on the validation windows, by `rgan tune`'s ranking."""
    from rgan.kubeflow.selection import choose

    configuration, board = choose([candidate.metadata for candidate in candidates])
    Path(leaderboard.path).write_text(board)
    return configuration


@clean_errors
def register_step(document: str, generator, outcome) -> str:
    from rgan.tracking.register_stage import register_stage

    require_tracking_server()
    params = parse_document(document)
    src = Path(generator.path)
    result = register_stage(params, src / RUN_FILE, src / EVAL_SCORES, None)
    verdict = "champion" if result["champion"] else f"champion not moved: {result['reason']}"
    Path(outcome.path).write_text(
        f"# Registered {result['model_name']} v{result['version']}\n\n{verdict}\n\n"
        f"Load it as `models:/{result['model_name']}/{result['version']}`"
        + (f" or `models:/{result['model_name']}@champion`.\n" if result["champion"] else ".\n"))
    outcome.metadata.update(result)
    return json.dumps(result)
