"""The sweep's selection: its trained trials ranked on the validation windows as `rgan tune` ranks them, the best
trial's settings and a leaderboard. Trials come as their generators' metadata (what train_step records)."""

from __future__ import annotations

from rgan.errors import RganError
from rgan.kubeflow.document import parse_configuration
from rgan.tuning.space import rank


def choose(trials: list[dict]) -> tuple[str, str]:
    """The best trial's settings (its configuration, JSON text) and the leaderboard (Markdown, best first)."""
    if not trials:
        raise RganError("the sweep produced no trained generators")
    ranked = []
    for number, meta in enumerate(trials):
        if "validation" not in meta:
            raise RganError(f"trial {meta.get('mlflow_run_id', '?')} has no validation score")
        configuration = meta.get("configuration", "{}")
        parse_configuration(configuration)  # a trial's settings are passed on as they came: check them once
        ranked.append({"number": number, "overrides": configuration, "validation": meta["validation"], "meta": meta})
    ranked = rank(ranked)
    lines = ["| run | configuration | validation ratio to floor | discriminative | discriminator |", "|---|---|---|---|---|"]
    for place, t in enumerate(ranked):
        meta, v = t["meta"], t["validation"]
        mark = " **(selected)**" if place == 0 else ""
        lines.append(f"| {meta.get('mlflow_run_id', '?')}{mark} | `{t['overrides']}` | {v['ratio']:.2f} "
                     f"| {v['discriminative']:.4f} | {meta.get('d_state', '?')} |")
    board = ("# Sweep: ranked on the validation windows (score / real-data floor, lower is better)\n\n" + "\n".join(lines)
             + "\n\nThe selected settings are trained for train.steps, evaluated and registered.\n")
    return ranked[0]["overrides"], board
