"""What each Kubeflow component runs. The components in components/ only call these; these call the same stage
functions as the DVC stages (prepare, tracked_train, tracked_evaluate, register_stage).

Artifacts are KFP's objects (anything with .path and .metadata). Settings arrive as params.yaml sections
(pipeline parameters) and are validated here, once, like params.yaml is.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import shutil
import tempfile
from pathlib import Path

from rgan.config import DataSource, Params, parse_params
from rgan.errors import RganError
from rgan.kubeflow.values import from_pipeline

# Files inside a generator (Model) artifact directory: the same files the DVC stages write under models/ and metrics/.
GENERATOR = "generator.pt"
RUN_FILE = "mlflow_run.json"
TRAIN_LOG = "train_log.tsv"
TRAIN_SUMMARY = "train.json"
EVAL_SCORES = "eval.json"
PLOTS = "plots"


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


def pipeline_params(sections: dict[str, dict], overrides: dict | None = None) -> Params:
    """params.yaml's sections as the pipeline passed them, validated; plus a sweep configuration's overrides."""
    params = parse_params(from_pipeline(sections), "pipeline parameters")
    return params.with_overrides(from_pipeline(overrides)) if overrides else params


def require_tracking_server() -> None:
    # On a cluster the embedded sqlite default would vanish with the pod: insist on the secret's server.
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise RganError("MLFLOW_TRACKING_URI is not set: create the MLflow secret named in kubeflow.mlflow_secret (see README)")


@clean_errors
def prepare_step(sections: dict, source: dict, prepared) -> None:
    from rgan.data.prepare import prepare
    from rgan.kubeflow.source import fetch
    from rgan.tracking.lineage import dvc_md5

    params = pipeline_params(sections)
    try:
        data_source = DataSource.model_validate(from_pipeline(source))
    except ValueError as exc:
        raise RganError(f"invalid data source {source}: {exc}") from None
    with tempfile.TemporaryDirectory() as scratch:
        local, record = fetch(data_source, params.data.path, scratch)
        stats = prepare(params.data.model_copy(update={"path": str(local)}), prepared.path)
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
def train_step(sections: dict, overrides: dict, prepared, generator, validation_repeats: int = 0, trial_steps: int = 0) -> None:
    from rgan.tracking.runs import RunRecord
    from rgan.tracking.train_stage import tracked_train
    from rgan.training.trainer import TrainPaths

    require_tracking_server()
    params = pipeline_params(sections, overrides)
    if validation_repeats:  # a sweep trial: as long as `rgan tune` trains one
        params = params.with_overrides({"train": {"steps": int(trial_steps)}})
    out = Path(generator.path)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as checkpoints:  # no resume across pods: checkpoints stay in the pod
        paths = TrainPaths(out / GENERATOR, Path(checkpoints), out / TRAIN_LOG, out / TRAIN_SUMMARY)
        summary = tracked_train(params, prepared.path, paths, out / RUN_FILE, extra_tags=source_tags(prepared.metadata))
    record = RunRecord.read(out / RUN_FILE)
    generator.metadata.update({
        "mlflow_run_id": record.run_id,
        "mlflow_model_uri": record.model_uri or "",
        "configuration": from_pipeline(overrides or {}),
        "steps": summary["steps"],
        "steps_per_s": summary["steps_per_s"],
        "device": summary["device"],
        "d_state": summary["d_state"],
    })
    if validation_repeats:
        from rgan.data.prepare import load_prepared
        from rgan.tuning import validation

        data = load_prepared(prepared.path)
        floors = validation.floor_scores(params, data, int(validation_repeats))
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


def _report_html(title: str, scores: dict, plots_dir: Path) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v if isinstance(v, bool) else f'{v:.4f}'}</td></tr>" for k, v in scores.items())
    images = "".join(
        f'<h3>{html.escape(png.stem)}</h3><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'
        for png in sorted(plots_dir.glob("*.png"))
    )
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h2>{html.escape(title)}</h2><table border='1' cellpadding='4'><tr><th>score</th><th>value</th></tr>{rows}</table>"
            f"{images}</body></html>")


@clean_errors
def evaluate_step(sections: dict, prepared, generator, scores, report, evaluated) -> None:
    from rgan.tracking.evaluate_stage import tracked_evaluate

    require_tracking_server()
    params = pipeline_params(sections)
    out = Path(evaluated.path)
    shutil.copytree(generator.path, out)  # the generator travels on with its scores, for selection and registration
    metrics = tracked_evaluate(params, prepared.path, out / GENERATOR, out / EVAL_SCORES, out / PLOTS, out / TRAIN_LOG, out / RUN_FILE)
    values = flat_scores(metrics)
    for name, value in values.items():
        scores.log_metric(name, float(value))
    run_id = generator.metadata.get("mlflow_run_id", "")
    Path(report.path).write_text(_report_html(f"rgan evaluation, MLflow run {run_id}", values, out / PLOTS))
    evaluated.metadata.update({**generator.metadata, "scores": values})


@clean_errors
def select_step(candidates: list, leaderboard) -> dict:
    """The sweep's fan-in: the settings of the best trial on the validation windows, by the ranking `rgan tune` uses."""
    from rgan.tuning.space import rank

    if not candidates:
        raise RganError("the sweep produced no trained generators")
    trials = []
    for number, candidate in enumerate(candidates):
        if "validation" not in candidate.metadata:
            raise RganError(f"trial {candidate.metadata.get('mlflow_run_id', '?')} has no validation score")
        trials.append({"number": number, "overrides": from_pipeline(candidate.metadata.get("configuration", {})),
                       "validation": candidate.metadata["validation"], "candidate": candidate})
    ranked = rank(trials)
    chosen = ranked[0]["candidate"]
    lines = ["| run | configuration | validation ratio to floor | discriminative | discriminator |", "|---|---|---|---|---|"]
    for t in ranked:
        c, v = t["candidate"], t["validation"]
        mark = " **(selected)**" if c is chosen else ""
        lines.append(f"| {c.metadata.get('mlflow_run_id', '?')}{mark} | `{json.dumps(t['overrides'])}` | {v['ratio']:.2f} "
                     f"| {v['discriminative']:.4f} | {c.metadata.get('d_state', '?')} |")
    Path(leaderboard.path).write_text("# Sweep: ranked on the validation windows (score / real-data floor, lower is better)\n\n"
                                      + "\n".join(lines) + "\n\nThe selected settings are trained for train.steps, evaluated and registered.\n")
    return ranked[0]["overrides"]


@clean_errors
def register_step(sections: dict, generator, outcome) -> str:
    from rgan.tracking.register_stage import register_stage

    require_tracking_server()
    params = pipeline_params(sections)
    src = Path(generator.path)
    result = register_stage(params, src / RUN_FILE, src / EVAL_SCORES, None)
    verdict = "champion" if result["champion"] else f"champion not moved: {result['reason']}"
    Path(outcome.path).write_text(
        f"# Registered {result['model_name']} v{result['version']}\n\n{verdict}\n\n"
        f"Load it as `models:/{result['model_name']}/{result['version']}`"
        + (f" or `models:/{result['model_name']}@champion`.\n" if result["champion"] else ".\n"))
    outcome.metadata.update(result)
    return json.dumps(result)
