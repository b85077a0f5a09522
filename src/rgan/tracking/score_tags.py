"""Scores on a registered version, as its tags (score.<name>): so ranking needs nothing but the registry."""

from __future__ import annotations

from rgan.config import BOOLEAN_SCORES, NUMERIC_SCORES

SCORE_PREFIX = "score."


def score_tags(eval_metrics: dict) -> dict[str, str]:
    """Tags for the scores in `rgan evaluate`'s metrics: each numeric score's mean (and .std), each boolean one."""
    tags = {}
    for name in NUMERIC_SCORES:
        if name in eval_metrics:
            tags[f"{SCORE_PREFIX}{name}"] = repr(float(eval_metrics[name]["mean"]))
            tags[f"{SCORE_PREFIX}{name}.std"] = repr(float(eval_metrics[name]["std"]))
    for name in BOOLEAN_SCORES:
        if name in eval_metrics:
            tags[f"{SCORE_PREFIX}{name}"] = str(bool(eval_metrics[name])).lower()
    return tags


def scores_from_tags(tags: dict[str, str]) -> dict[str, float | bool]:
    """The scores in a version's tags: floats and booleans; absent or unreadable ones are missing."""
    out: dict[str, float | bool] = {}
    for key, value in tags.items():
        if not key.startswith(SCORE_PREFIX) or key.endswith(".std"):
            continue
        name = key[len(SCORE_PREFIX) :]
        if name in BOOLEAN_SCORES:
            out[name] = value == "true"
        else:
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out
