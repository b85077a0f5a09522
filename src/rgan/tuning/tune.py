"""`rgan tune`: train `tune.trials` variations of the recipe for `tune.steps` steps each on the prepared data, score
each on the validation windows, and write the best one's settings into a params file that `dvc repro` then uses.

Every trial is a child run of one MLflow tuning run (its settings as params, its validation scores and the
discriminator's health as metrics). Trials are independent of the evaluate stage: the test windows are never seen.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from rgan.config import Params, parse_params, read_yaml
from rgan.errors import RganError
from rgan.notes import note
from rgan.tracking.connection.failures import tracking_errors
from rgan.tuning import space, validation


def tune(params: Params, params_path: str | Path, prepared_dir: str | Path, out: str | Path, budget_min: float | None = None,
         track: bool = True) -> dict:
    from rgan.training.trainer import load_training_data

    cfg = params.tune
    prepared = load_training_data(params, prepared_dir)  # clear errors (missing data, batch above the windows) before any trial
    validation.validation_windows(prepared, params)  # enough validation windows, before minutes of training
    tracker = _Tracker(params, prepared_dir) if track else None
    started = time.monotonic()
    study, dists = space.study(cfg), space.distributions(cfg)
    floors = validation.floor_scores(params, prepared, cfg.repeats)
    results: list[dict] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rgan-tune-") as work:
            for number in range(cfg.trials):
                if budget_min is not None and time.monotonic() - started > budget_min * 60:
                    note(f"tuning budget of {budget_min:g} min spent after {number} of {cfg.trials} trials")
                    break
                trial = study.ask(dists)
                result = _run_trial(params, prepared_dir, prepared, number, space.overrides(trial.params), floors, Path(work) / str(number))
                if result is None:
                    study.tell(trial, state=_failed())
                    continue
                study.tell(trial, result["validation"]["ratio"])
                results.append(result)
                if tracker:
                    tracker.trial(result)
                v = result["validation"]
                print(f"trial {number + 1}/{cfg.trials}: {v['ratio']:.2f}x the floor (discriminative {v['discriminative']:.4f}) "
                      f"{json.dumps(result['overrides'])}", file=sys.stderr, flush=True)
        if not results:
            raise RganError("no trial finished: every one diverged or was invalid (see the notes above); narrow tune.space")
        ranked = space.rank(results)
        best = ranked[0]
        write_params_file(Path(params_path), Path(out), best["overrides"])
        summary = {"best": best, "trials": ranked, "out": str(out), "floor": float(sum(floors) / len(floors)),
                   "wall_time_s": round(time.monotonic() - started, 1)}
        if tracker:
            tracker.finish(summary, Path(out))
    except BaseException:
        if tracker:
            tracker.fail()
        raise
    return summary


def _failed():
    import optuna

    return optuna.trial.TrialState.FAIL


def _run_trial(params: Params, prepared_dir, prepared, number: int, overrides: dict, floors: list[float], work: Path) -> dict | None:
    from rgan.training.trainer import TrainPaths, train

    try:
        trial_params = params.with_overrides(overrides).with_overrides({"train": {"steps": params.tune.steps}})
    except RganError as exc:
        note(f"trial {number + 1} skipped: its settings are invalid ({exc})")
        return None
    paths = TrainPaths(work / "generator.pt", work / "checkpoints", work / "train_log.tsv", work / "train.json")
    try:
        summary = train(trial_params, prepared_dir, paths, progress=False)
    except RganError as exc:
        if "diverged" not in str(exc):
            raise
        note(f"trial {number + 1} diverged and is left out: {json.dumps(overrides)}")
        return None
    return {"number": number, "overrides": overrides, "validation": validation.score(trial_params, prepared, paths.generator, floors),
            "steps_per_s": summary["steps_per_s"], "d_accuracy": summary["d_accuracy"], "d_state": summary["d_state"]}


def write_params_file(source: Path, out: Path, overrides: dict[str, dict]) -> None:
    """`source` with the tuned settings replaced, comments and order kept (ruamel, which DVC already uses), written
    atomically to `out` after checking it loads."""
    from ruamel.yaml import YAML

    from rgan.atomic import atomic_path

    yaml = YAML()
    yaml.preserve_quotes = True
    doc = yaml.load(source.read_text(encoding="utf-8")) if source.is_file() else None
    if doc is None:
        doc = {}
    for section, values in overrides.items():
        if doc.get(section) is None:
            doc[section] = {}
        for key, value in values.items():
            doc[section][key] = value
    with atomic_path(out) as tmp:
        with tmp.open("w", encoding="utf-8") as f:
            yaml.dump(doc, f)
        parse_params(read_yaml(tmp), str(out))  # the written file must be valid params before it replaces anything


class _Tracker:
    """The tuning run and its trials' child runs in MLflow."""

    @tracking_errors("starting the MLflow tuning run")
    def __init__(self, params: Params, prepared_dir):
        from rgan.device import resolve_device
        from rgan.tracking.connection.connect import connect
        from rgan.tracking.runs import experiment_id
        from rgan.tracking.train_stage import lineage_tags

        self.client = connect(params.mlflow)
        self.experiment = experiment_id(self.client, params.mlflow.experiment)
        tags = lineage_tags(params, prepared_dir, str(resolve_device(params.train.device)))
        self.tags = {**tags, "rgan.stage": "tune"}
        run = self.client.create_run(self.experiment, run_name=f"tune-{tags['rgan.dataset']}", tags=self.tags)
        self.run_id = run.info.run_id
        cfg = params.tune
        self._params(self.run_id, {"tune.trials": cfg.trials, "tune.steps": cfg.steps, "tune.sampler": cfg.sampler,
                                   "tune.seed": cfg.seed, "tune.repeats": cfg.repeats,
                                   "tune.space": json.dumps({k: v.model_dump(exclude_none=True) for k, v in cfg.space.items()})})
        print(f"MLflow tuning run {self.run_id} in experiment '{params.mlflow.experiment}'", file=sys.stderr)

    def _params(self, run_id: str, values: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in values.items()])

    def _metrics(self, run_id: str, values: dict, step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items() if v is not None])

    @tracking_errors("logging a tuning trial")
    def trial(self, result: dict) -> None:
        child = self.client.create_run(self.experiment, run_name=f"trial-{result['number'] + 1}",
                                       tags={**self.tags, "rgan.stage": "tune-trial", "mlflow.parentRunId": self.run_id,
                                             "rgan.trial": str(result["number"])})
        cid = child.info.run_id
        self._params(cid, {f"{section}.{k}": v for section, values in result["overrides"].items() for k, v in values.items()})
        v = result["validation"]
        self._metrics(cid, {"val/discriminative": v["discriminative"], "val/floor": v["floor"], "val/ratio": v["ratio"],
                            "train/steps_per_s": result["steps_per_s"], "train/d_accuracy": result["d_accuracy"]})
        self.client.set_tag(cid, "rgan.discriminator_state", result["d_state"])
        self.client.set_terminated(cid, "FINISHED")
        self._metrics(self.run_id, {"val/ratio": v["ratio"]}, step=result["number"])

    @tracking_errors("logging the tuning result")
    def finish(self, summary: dict, out: Path) -> None:
        best = summary["best"]
        self._params(self.run_id, {f"best.{section}.{k}": v for section, values in best["overrides"].items() for k, v in values.items()})
        self._metrics(self.run_id, {"best/val_ratio": best["validation"]["ratio"], "best/val_discriminative": best["validation"]["discriminative"],
                                    "val/floor": summary["floor"], "trials_finished": len(summary["trials"])})
        self.client.set_tag(self.run_id, "rgan.best_trial", str(best["number"]))
        self.client.log_artifact(self.run_id, str(out), "tune")
        self.client.set_terminated(self.run_id, "FINISHED")

    def fail(self) -> None:
        try:
            self.client.set_terminated(self.run_id, "FAILED")
        except Exception:  # the original error matters more than a failed status update
            pass
