"""Fidelity end to end: health warnings from real trainings (stderr, MLflow), the floor from evaluate, `rgan tune`
writing params and logging trials."""

from __future__ import annotations

import json

import mlflow
import pytest
import yaml
from conftest import run, tiny, write_params

from rgan.config import load_params, parse_params
from rgan.evaluation import floor
from rgan.training.health import CHANCE_BELOW
from rgan.training.trainer import TrainPaths, train


def _prepared(tmp_path, **overrides):
    params = parse_params(tiny(**overrides))
    from rgan.data.prepare import prepare
    from rgan.data.sines import write_sines

    write_sines(params.data.sines, tmp_path / "sines.parquet")
    params = params.with_overrides({"data": {"path": str(tmp_path / "sines.parquet")}})
    prepare(params.data, tmp_path / "prepared")
    return params


def _train(tmp_path, params, name: str, capsys):
    paths = TrainPaths(tmp_path / name / "g.pt", tmp_path / name / "ckpt", tmp_path / name / "log.tsv", tmp_path / name / "train.json")
    summary = train(params, tmp_path / "prepared", paths, progress=False)
    return summary, paths, capsys.readouterr().err


def test_a_stalled_discriminator_is_warned_about_and_a_learning_one_is_not(tmp_path, capsys):
    params = _prepared(tmp_path)
    common = {"steps": 200, "log_every": 10, "health_steps": 100, "checkpoint_every": 200, "d_steps": 1}
    # made to stall: a discriminator whose learning rate is too small to move its weights stays at chance
    stalled, paths, err = _train(tmp_path, params.with_overrides({"train": {**common, "d_lr": 1e-9}}), "stalled", capsys)
    assert stalled["d_state"] == "chance" and stalled["d_accuracy"] < CHANCE_BELOW
    assert len(stalled["health_warnings"]) == 1 and "warning: step 100: the discriminator has been at chance" in err
    log = paths.log.read_text().splitlines()
    header = log[0].split("\t")
    assert {"d_acc_real", "d_acc_fake", "d_acc", "d_state"} <= set(header)
    assert log[-1].split("\t")[header.index("d_state")] == "chance"
    # healthy: a discriminator that learns and a generator that keeps up: in the band between chance and winning
    healthy, _, err = _train(tmp_path, params.with_overrides({"train": {**common, "d_lr": 0.001, "g_lr": 0.002}}), "healthy", capsys)
    assert healthy["health_warnings"] == [] and "warning" not in err
    assert healthy["d_state"] == "ok" and CHANCE_BELOW < healthy["d_accuracy"] < 0.98


def test_health_warnings_reach_the_mlflow_run(tmp_path):
    workdir = tmp_path
    write_params(workdir / "params.yaml", tiny(train={"steps": 60, "log_every": 10, "health_steps": 30, "d_lr": 1e-9, "checkpoint_every": 60}))
    assert run("make-sines", cwd=workdir)[0] == 0
    assert run("prepare", cwd=workdir)[0] == 0
    code, err = run("train", cwd=workdir)
    assert code == 0, err
    assert "the discriminator has been at chance" in err
    run_id = json.loads((workdir / "models" / "mlflow_run.json").read_text())["run_id"]
    tags = mlflow.MlflowClient().get_run(run_id).data.tags
    assert tags["rgan.discriminator_state"] == "chance" and tags["rgan.health_warnings"] == "1"
    assert "at chance" in tags["rgan.health_warning"]
    metrics = mlflow.MlflowClient().get_run(run_id).data.metrics
    assert "train/d_acc" in metrics and "train/d_acc_real" in metrics


def test_evaluate_reports_the_floor_independent_of_the_generator(tmp_path):
    from rgan.evaluation.evaluate import evaluate

    params = _prepared(tmp_path, evaluate={"repeats": 1, "discriminative_iterations": 30, "predictive_iterations": 10})
    scores = []
    for name, steps in (("a", 10), ("b", 30)):
        paths = TrainPaths(tmp_path / name / "g.pt", tmp_path / name / "ckpt", tmp_path / name / "log.tsv", tmp_path / name / "t.json")
        train(params.with_overrides({"train": {"steps": steps, "checkpoint_every": steps}}), tmp_path / "prepared", paths, progress=False)
        scores.append(evaluate(params, tmp_path / "prepared", paths.generator, tmp_path / name / "eval.json", tmp_path / name / "plots"))
    a, b = scores
    assert a["discriminative_floor"] == b["discriminative_floor"]  # computed from real data only
    n = a["windows"]
    for m in scores:
        expected = m["discriminative"]["mean"] / max(m["discriminative_floor"]["mean"], floor.accuracy_noise(n, n))
        assert m["discriminative_ratio"]["mean"] == pytest.approx(expected, abs=1e-4)
        assert m["predictive_ratio"]["mean"] == pytest.approx(m["predictive"]["mean"] / m["predictive_real"]["mean"], abs=1e-4)


def _tune_project(tmp_path):
    raw = tiny(tune={"trials": 3, "steps": 15, "repeats": 1, "seed": 0,
                     "space": {"train.g_lr": {"low": 0.0005, "high": 0.005, "log": True}, "model.cell": {"choices": ["lstm", "gru"]}}})
    raw["evaluate"]["discriminative_iterations"] = 60
    text = "# my settings\n" + yaml.safe_dump(raw, sort_keys=False)
    (tmp_path / "params.yaml").write_text(text)
    assert run("make-sines", cwd=tmp_path)[0] == 0
    assert run("prepare", cwd=tmp_path)[0] == 0
    return raw


def test_tune_writes_a_valid_params_file_and_logs_every_trial(tmp_path):
    raw = _tune_project(tmp_path)
    code, err = run("tune", "--out", "tuned.yaml", cwd=tmp_path)
    assert code == 0, err
    assert "best: trial" in err and "trial 3/3" in err
    tuned = load_params(tmp_path / "tuned.yaml")
    text = (tmp_path / "tuned.yaml").read_text()
    assert text.startswith("# my settings")  # the user's file, comments kept
    assert tuned.train.steps == raw["train"]["steps"]  # the final run's length is the user's, not tune.steps
    assert 0.0005 <= tuned.train.g_lr <= 0.005 and tuned.model.cell in ("lstm", "gru")
    assert (tmp_path / "params.yaml").read_text().startswith("# my settings")  # --out: the original is untouched
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("rgan")
    parents = client.search_runs([exp.experiment_id], "tags.`rgan.stage` = 'tune'", order_by=["attributes.start_time DESC"])
    parent = parents[0]
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 3 and all("val/ratio" in c.data.metrics and "train.g_lr" in c.data.params for c in children)
    best = min(children, key=lambda c: (c.data.metrics["val/ratio"], c.data.metrics["val/discriminative"], int(c.data.tags["rgan.trial"])))
    assert parent.data.params["best.train.g_lr"] == best.data.params["train.g_lr"] == str(tuned.train.g_lr)
    assert parent.info.status == "FINISHED"


def test_tune_is_deterministic_and_updates_params_in_place_by_default(tmp_path):
    _tune_project(tmp_path)
    original = (tmp_path / "params.yaml").read_text()
    assert run("tune", "--no-mlflow", "--out", "a.yaml", cwd=tmp_path)[0] == 0
    assert run("tune", "--no-mlflow", "--out", "b.yaml", cwd=tmp_path)[0] == 0
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()
    code, err = run("tune", "--no-mlflow", "--trials", "1", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "params.yaml").read_text() != original and "`dvc repro` trains with them" in err

