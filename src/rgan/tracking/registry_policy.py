"""Which version should be champion: the registry's rules as plain data in, plain data out (no MLflow here).

A version is a `Candidate`, its number and its scores; the rules are the params' `registry` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rgan.config import RegistryConfig


@dataclass(frozen=True)
class Candidate:
    version: str
    scores: dict[str, float | bool] = field(default_factory=dict)


def gate_failures(cfg: RegistryConfig, scores: dict) -> list[str]:
    """What `scores` miss of `cfg.gates`, one phrase per failed gate; empty when every gate passes."""
    failures = []
    for name, rule in cfg.gates.items():
        value = scores.get(name)
        if value is None:
            failures.append(f"{name} is missing")
        elif isinstance(rule, bool):
            if value != rule:
                failures.append(f"{name} is {str(value).lower()}, the gate wants {str(rule).lower()}")
        else:
            if rule.min is not None and value < rule.min:
                failures.append(f"{name} {value:.4g} is below the gate's min {rule.min:g}")
            if rule.max is not None and value > rule.max:
                failures.append(f"{name} {value:.4g} is above the gate's max {rule.max:g}")
    return failures


def beats(cfg: RegistryConfig, new: float, old: float) -> bool:
    """Strictly better on `cfg.metric`'s direction: a tie keeps the champion."""
    return new < old if cfg.direction == "minimize" else new > old


def champion_verdict(cfg: RegistryConfig, candidate: Candidate, champion: Candidate | None) -> str | None:
    """None when `candidate` should be champion (it already is, or it should replace `champion` now),
    else the reason it should not."""
    if champion is not None and champion.version == candidate.version:
        return None
    failures = gate_failures(cfg, candidate.scores)
    if failures:
        return "it fails the registry gates: " + "; ".join(failures)
    if not cfg.auto_promote:
        return f"registry.auto_promote is false: promote it with `rgan promote --version {candidate.version}`"
    if champion is None:
        return None
    new, old = candidate.scores.get(cfg.metric), champion.scores.get(cfg.metric)
    if new is None:
        return f"it has no {cfg.metric} score"
    if old is None:
        return None  # a champion without the ranking score (set by hand, or another metric before): replace it
    if not beats(cfg, new, old):
        better = "lower" if cfg.direction == "minimize" else "higher"
        return f"its {cfg.metric} {new:.4g} does not beat champion v{champion.version}'s {old:.4g} ({better} is better)"
    return None
