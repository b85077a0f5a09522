"""Pure rules of the fidelity work: the discriminator's health monitor, the real-data floor and ratio, a gate on it, the
tune search's planned trials and ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ROOT

from rgan.config import Bounds, RegistryConfig, load_params, parse_params
from rgan.evaluation import floor
from rgan.tracking.registry_policy import gate_failures
from rgan.training.health import HealthMonitor
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


def test_the_floor_uses_real_windows_only_and_the_ratio_respects_noise():
    rng = np.random.default_rng(0)
    train_windows = rng.random((500, 24, 2)).astype(np.float32)
    reference = floor.real_reference(train_windows, 100, seed=1)
    assert len(reference) == 100 and all(any(np.array_equal(r, t) for t in train_windows) for r in reference[:5])
    assert floor.real_reference(train_windows[:50], 100, seed=1) is not None and len(floor.real_reference(train_windows[:50], 100, 1)) == 50
    # a floor of 0 (a lucky split) is raised to the classifier's noise: 0.5 / sqrt(20% of both sets)
    assert floor.ratio(0.1, 0.0, 500) == pytest.approx(0.1 / (0.5 / math.sqrt(200)))
    assert floor.ratio(0.3, 0.1, 500) == pytest.approx(3.0)


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

