"""TimeGAN's post-hoc scores (Yoon et al., NeurIPS 2019), re-implemented in torch.

- discriminative: a 1-layer GRU classifier (hidden = max(1, dim // 2)) learns to tell real from synthetic
  windows on 80% of each; score = |test accuracy - 0.5| (0 is best).
- predictive (train on synthetic, test on real): a 1-layer GRU predicts the last feature one step ahead
  from the other features; score = mean absolute error on real windows (lower is better).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class _GRUHead(nn.Module):
    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0]).squeeze(-1)  # (batch, seq_len)


def _hidden(dim: int) -> int:
    return max(1, dim // 2)


def discriminative_score(
    real: np.ndarray, synthetic: np.ndarray, iterations: int, batch_size: int, seed: int, device: torch.device
) -> float:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    real_t = torch.tensor(real, dtype=torch.float32, device=device)
    synth_t = torch.tensor(synthetic, dtype=torch.float32, device=device)
    real_train, real_test = _split(len(real), rng)
    synth_train, synth_test = _split(len(synthetic), rng)

    model = _GRUHead(real.shape[2], _hidden(real.shape[2])).to(device)
    opt = torch.optim.Adam(model.parameters())
    labels = torch.cat([torch.ones(batch_size, device=device), torch.zeros(batch_size, device=device)])
    for _ in range(iterations):
        # as in TimeGAN: a batch of each kind per iteration (one forward pass for both); the classifier
        # reads the output at the final step
        r = real_t[real_train[rng.integers(len(real_train), size=batch_size)]]
        s = synth_t[synth_train[rng.integers(len(synth_train), size=batch_size)]]
        loss = F.binary_cross_entropy_with_logits(model(torch.cat([r, s]))[:, -1], labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        correct = (model(real_t[real_test])[:, -1] > 0).sum() + (model(synth_t[synth_test])[:, -1] <= 0).sum()
    accuracy = correct.item() / (len(real_test) + len(synth_test))
    return abs(accuracy - 0.5)


def _split(n: int, rng: np.random.Generator, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    cut = min(max(1, int(round(n * train_fraction))), n - 1)
    return order[:cut], order[cut:]


def _predictive_xy(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs: the other features at steps 0..T-2; target: the last feature at steps 1..T-1.
    With a single feature the model sees that feature itself (plain one-step-ahead forecasting)."""
    inputs = windows[:, :-1, :-1] if windows.shape[2] > 1 else windows[:, :-1, :]
    return inputs, windows[:, 1:, -1]


def predictive_score(
    train_windows: np.ndarray, test_windows: np.ndarray, iterations: int, batch_size: int, seed: int, device: torch.device
) -> float:
    """Train the forecaster on `train_windows` (synthetic, or real for the reference row), MAE on `test_windows`."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x, y = _predictive_xy(torch.tensor(train_windows, dtype=torch.float32, device=device))
    x_test, y_test = _predictive_xy(torch.tensor(test_windows, dtype=torch.float32, device=device))
    model = _GRUHead(x.shape[2], _hidden(train_windows.shape[2])).to(device)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(iterations):
        pick = torch.as_tensor(rng.integers(len(x), size=batch_size), device=device)
        loss = F.l1_loss(torch.sigmoid(model(x[pick])), y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return F.l1_loss(torch.sigmoid(model(x_test)), y_test).item()
