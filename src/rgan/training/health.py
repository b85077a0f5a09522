"""The discriminator's health, watched during training.

An adversarial run only learns while the discriminator can tell real from generated data some of the time.
Two failure modes leave the generator shaped by its auxiliary terms alone, with nothing said:
- at chance: the discriminator's balanced accuracy stays near 0.5 (d_loss near 2 ln 2): it learns nothing, so
  its gradient carries no information;
- winning: it tells every sequence apart (accuracy near 1): the generator's adversarial gradient vanishes.
The monitor averages the logged accuracies over the last `train.health_steps` steps and reports when that
average enters either band; training goes on (a stall can recover), the warning is logged.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from pathlib import Path

CHANCE_BELOW = 0.55  # balanced accuracy under this, sustained: at chance
WINNING_ABOVE = 0.98  # balanced accuracy over this, sustained: winning completely
HYSTERESIS = 0.02  # a state is left only this far past its band, so a run on the edge is not warned at every row
STATES = ("ok", "chance", "winning")


def balanced_accuracy(row: dict) -> float:
    real, fake = row.get("d_acc_real", math.nan), row.get("d_acc_fake", math.nan)
    return (float(real) + float(fake)) / 2


class HealthMonitor:
    def __init__(self, health_steps: int, log_every: int):
        self.window: deque[float] = deque(maxlen=max(1, health_steps // log_every))
        self.health_steps = health_steps
        self.state = "ok"

    @property
    def accuracy(self) -> float:
        """Balanced accuracy averaged over the window (NaN before any discriminator step)."""
        return sum(self.window) / len(self.window) if self.window else math.nan

    def update(self, row: dict) -> tuple[float, str, str | None]:
        """(windowed accuracy, state, warning or None) after a logged row. The state is judged only once the
        window is full, and a warning is given when the state changes to chance or winning."""
        accuracy = balanced_accuracy(row)
        if not math.isnan(accuracy):  # TimeGAN's first phases have no discriminator
            self.window.append(accuracy)
        if len(self.window) < (self.window.maxlen or 1):
            return self.accuracy, "ok", None
        mean = self.accuracy
        state = "chance" if mean < CHANCE_BELOW else "winning" if mean > WINNING_ABOVE else "ok"
        if state == "ok" and self.state == "chance" and mean < CHANCE_BELOW + HYSTERESIS:
            state = "chance"
        if state == "ok" and self.state == "winning" and mean > WINNING_ABOVE - HYSTERESIS:
            state = "winning"
        warning = None
        if state != self.state and state != "ok":
            warning = message(state, mean, row["step"], self.health_steps)
        self.state = state
        return mean, state, warning


def message(state: str, accuracy: float, step: int, health_steps: int) -> str:
    if state == "chance":
        return (f"step {step}: the discriminator has been at chance for {health_steps} steps (balanced accuracy "
                f"{accuracy:.3f}): its signal is dead, so only the moment term shapes the generator, unless the generator "
                "already matches the data (evaluate's discriminative_ratio near 1 says so). Try a larger train.d_lr than "
                "train.g_lr, more train.d_steps, or `rgan tune`")
    return (f"step {step}: the discriminator has told real from generated apart for {health_steps} steps (balanced "
            f"accuracy {accuracy:.3f}): the generator gets no useful gradient. Try a lower train.d_lr or larger model.hidden")


def read_health(log_path: Path) -> dict:
    """Summary of a training log's health columns: share of logged steps in each state, final accuracy."""
    with Path(log_path).open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    states = [r.get("d_state", "ok") for r in rows if r.get("d_state")]
    accuracies = [float(r["d_acc"]) for r in rows if r.get("d_acc") not in (None, "", "nan")]
    return {
        "final_accuracy": round(accuracies[-1], 4) if accuracies else None,
        "mean_accuracy": round(sum(accuracies) / len(accuracies), 4) if accuracies else None,
        **{f"{s}_share": round(states.count(s) / len(states), 3) if states else None for s in STATES[1:]},
    }
