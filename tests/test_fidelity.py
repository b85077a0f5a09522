"""Fidelity on the user's data: the discriminator's health watched during training, scores read against a
real-vs-real floor, the registry gate on that ratio, and `rgan tune` (trials, MLflow child runs, params file)."""

from __future__ import annotations

import json
import math

import mlflow
import numpy as np
import pytest
import yaml
from conftest import ROOT, run, tiny, write_params

from rgan.config import Bounds, RegistryConfig, load_params, parse_params
from rgan.evaluation import floor
from rgan.tracking.registry_policy import gate_failures
from rgan.training.health import CHANCE_BELOW, HealthMonitor
from rgan.training.trainer import TrainPaths, train
from rgan.tuning.space import planned_trials, rank


def _rows(accuracies: list[float], every: int = 10) -> list[dict]:
    return [{"step": (i + 1) * every, "d_acc_real": a, "d_acc_fake": a} for i, a in enumerate(accuracies)]


@pytest.mark.parametrize("accuracies, states, warnings", [
    ([0.5] * 12, "chance", 1),                      # sits at chance: one warning once the window is full
    ([0.75] * 12, "ok", 0),                         # a discriminator that learns: nothing
    ([0.995] * 12, "winning", 1),                   # tells every sequence apart: warned
    ([0.5] * 10 + [0.56] * 10, "chance", 1),        # just past the band: still at chance (hysteresis), no second warning
    ([0.5] * 10 + [0.8] * 10 + [0.5] * 10, "chance", 2),  # recovers, then stalls again: warned again
    ([0.5] * 9, "ok", 0),                           # shorter than health_steps: not judged
])
def test_health_monitor_warns_on_a_sustained_stall_only(accuracies, states, warnings):
    monitor = HealthMonitor(health_steps=100, log_every=10)
    given = [w for row in _rows(accuracies) for w in [monitor.update(row)[2]] if w]
    assert monitor.state == states and len(given) == warnings
    if warnings:
        assert "step " in given[0] and "for 100 steps" in given[0]


def test_health_monitor_skips_rows_without_a_discriminator():
    monitor = HealthMonitor(health_steps=20, log_every=10)
    for row in _rows([math.nan] * 5):  # TimeGAN's first phases
        assert monitor.update(row)[1] == "ok"
    assert len(monitor.window) == 0


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


def test_the_floor_uses_real_windows_only_and_the_ratio_respects_noise():
    rng = np.random.default_rng(0)
    train_windows = rng.random((500, 24, 2)).astype(np.float32)
    reference = floor.real_reference(train_windows, 100, seed=1)
    assert len(reference) == 100 and all(any(np.array_equal(r, t) for t in train_windows) for r in reference[:5])
    assert floor.real_reference(train_windows[:50], 100, seed=1) is not None and len(floor.real_reference(train_windows[:50], 100, 1)) == 50
    # a floor of 0 (a lucky split) is raised to the classifier's noise: 0.5 / sqrt(20% of both sets)
    assert floor.ratio(0.1, 0.0, 500) == pytest.approx(0.1 / (0.5 / math.sqrt(200)))
    assert floor.ratio(0.3, 0.1, 500) == pytest.approx(3.0)


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


def test_a_registry_gate_on_the_ratio_to_the_floor():
    cfg = RegistryConfig(gates={"discriminative_ratio": Bounds(max=2.0)})
    assert gate_failures(cfg, {"discriminative_ratio": 1.5}) == []
    assert gate_failures(cfg, {"discriminative_ratio": 3.1}) == ["discriminative_ratio 3.1 is above the gate's max 2"]
    parse_params({"registry": {"gates": {"discriminative_ratio": {"max": 2}}}})  # a params.yaml may say so


def test_planned_trials_are_a_function_of_the_tune_section():
    params = load_params(ROOT / "params.yaml")
    first, again = planned_trials(params.tune), planned_trials(params.tune)
    assert first == again and len(first) == params.tune.trials
    other = planned_trials(params.tune.model_copy(update={"seed": 1}))
    assert other != first
    for trial in first:
        checked = params.with_overrides(trial)  # every trial is valid params
        for key, dim in params.tune.space.items():
            section, name = key.split(".")
            value = getattr(getattr(checked, section), name)
            assert value in dim.choices if dim.choices else dim.low <= value <= dim.high


def test_rank_prefers_the_lowest_ratio_then_score_then_the_earlier_trial():
    trials = [{"number": n, "validation": {"ratio": r, "discriminative": d}} for n, r, d in [(0, 2.0, 0.1), (1, 1.0, 0.2), (2, 1.0, 0.1), (3, 1.0, 0.1)]]
    assert [t["number"] for t in rank(trials)] == [2, 3, 1, 0]


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
