"""The search: which trials a `tune` section asks for, and how trials are ranked. One implementation for
`rgan tune` (here, one trial after another) and the Kubeflow sweep (its trials in parallel), so both agree.

Optuna holds the search space and samplers: seeded random sampling (a pure function of the space, the seed and
the trial count, so a cluster sweep can plan every trial before any finishes) and TPE (adaptive, sequential).
"""

from __future__ import annotations

import math

from rgan.config import TuneConfig
from rgan.errors import RganError


def distributions(cfg: TuneConfig) -> dict:
    import optuna.distributions as d

    from rgan.config import KINDS, setting_field

    out = {}
    for key, dim in cfg.space.items():
        if dim.choices is not None:
            out[key] = d.CategoricalDistribution(dim.choices)
            continue
        # a setting has one type whichever kind has it (checked against model.kind by Params)
        default = next(f for kind in KINDS if (f := setting_field(kind, key)) is not None).default
        if isinstance(default, int) and not isinstance(default, bool) and float(dim.low).is_integer() and float(dim.high).is_integer():
            out[key] = d.IntDistribution(int(dim.low), int(dim.high), log=dim.log)
        else:
            out[key] = d.FloatDistribution(dim.low, dim.high, log=dim.log)
    return out


def study(cfg: TuneConfig):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.RandomSampler(seed=cfg.seed) if cfg.sampler == "random"
               else optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=min(5, cfg.trials)))
    return optuna.create_study(direction="minimize", sampler=sampler)


def overrides(flat: dict) -> dict[str, dict]:
    """{"train.g_lr": 1e-3} -> {"train": {"g_lr": 1e-3}}, values as plain Python numbers, floats to 4 significant digits
    (a params file a person reads)."""
    nested: dict[str, dict] = {}
    for key, value in flat.items():
        section, _, name = key.partition(".")
        if isinstance(value, float) and value != 0 and math.isfinite(value):
            value = float(f"{value:.4g}")
        nested.setdefault(section, {})[name] = value
    return nested


def planned_trials(cfg: TuneConfig) -> list[dict[str, dict]]:
    """Every trial's overrides, decided before any runs: the random sampler's, which results cannot change."""
    if cfg.sampler != "random":
        raise RganError("the Kubeflow sweep trains its trials in parallel, so it needs tune.sampler: random (tpe adapts "
                        "each trial to the previous ones: use it with `rgan tune`)")
    s, dists = study(cfg), distributions(cfg)
    return [overrides(s.ask(dists).params) for _ in range(cfg.trials)]


def rank(trials: list[dict]) -> list[dict]:
    """Best first: lowest validation ratio to the floor, then lowest validation score, then the earlier trial.
    Each trial: {"number", "overrides", "validation": {"ratio", "discriminative", "floor"}}."""
    return sorted(trials, key=lambda t: (t["validation"]["ratio"], t["validation"]["discriminative"], t["number"]))
