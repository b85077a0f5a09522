"""The real-vs-real floor: what the post-hoc discriminative score gives when the "generator" is the real training
data itself. A score is read as "x times the floor": 1 means the classifier tells the synthetic windows from
the held-out real ones no better than it tells real training windows from them.

The floor is computed exactly as the score (same classifier, iterations, batch size, seeds, held-out windows),
with training windows in place of synthetic ones, so it sees only real data. Ratios of small noisy numbers
explode, so the denominator is never below the classifier's sampling noise: the standard error of an accuracy
measured on the 20% held-out part of both sets (0.5 / sqrt(n)).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rgan.evaluation import posthoc


def real_reference(train_windows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` training windows drawn without replacement (all of them when there are fewer): the stand-in for a
    generator that reproduces the training distribution exactly."""
    if len(train_windows) <= n:
        return train_windows
    pick = np.sort(np.random.default_rng(seed).choice(len(train_windows), size=n, replace=False))
    return train_windows[pick]


def accuracy_noise(n_real: int, n_other: int) -> float:
    """Standard error of the post-hoc classifier's accuracy: it is measured on 20% of each set."""
    held_out = max(1, round(0.2 * n_real) + round(0.2 * n_other))
    return 0.5 / math.sqrt(held_out)


def ratio(score: float, floor: float, n_real: int, n_other: int | None = None) -> float:
    """score / floor, the floor raised to the classifier's noise level when it is below it."""
    return score / max(floor, accuracy_noise(n_real, n_real if n_other is None else n_other))


def discriminative(real: np.ndarray, other: np.ndarray, iterations: int, seed: int, batch_size: int = 128,
                   device: torch.device = torch.device("cpu")) -> float:
    return posthoc.discriminative_score(real, other, iterations, batch_size=batch_size, seed=seed, device=device)
