"""TimeGAN's post-hoc scores (Yoon et al., NeurIPS 2019), re-implemented in torch.

- discriminative: a 1-layer GRU classifier (hidden = max(1, dim // 2)) learns to tell real from synthetic
  windows on 80% of each; score = |test accuracy - 0.5| (0 is best).
- predictive (train on synthetic, test on real): a 1-layer GRU predicts the last feature one step ahead
  from the other features; score = mean absolute error on real windows (lower is better).

Several scorings of the same kind (the repeats of an evaluation) train as one grouped model: one GRU whose weights
are block-diagonal, one block per member, so the members never see each other (their cross-weights are zero and
their gradients masked, so Adam never moves them). A member's initial weights, batches and seed are exactly those it
would have alone; these tiny GRUs cost what their per-step operations cost, not their size, so a group of k trains
in about the time of one. Only the order of float sums inside a matrix product differs from training alone.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

GATES = 3  # a GRU's weights stack its reset, update and new gates


class _GRUHead(nn.Module):
    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0]).squeeze(-1)  # (batch, seq_len)


def _hidden(dim: int) -> int:
    return max(1, dim // 2)


def _seeded_head(inputs: int, hidden: int, seed: int) -> _GRUHead:
    torch.manual_seed(seed)  # a member's initial weights: those of a scoring with this seed on its own
    return _GRUHead(inputs, hidden)


class GroupedHeads(nn.Module):
    """k `_GRUHead`s of the same shape as one GRU (hidden k*h, inputs k*d) and one linear head (k outputs), their
    weights on the block diagonal. Input (batch, seq, k*d): member i reads features i*d:(i+1)*d; output (batch, seq, k)."""

    def __init__(self, heads: Sequence[_GRUHead], device: torch.device):
        super().__init__()
        k, d, h = len(heads), heads[0].gru.input_size, heads[0].gru.hidden_size
        self.k, self.d, self.h = k, d, h
        self.gru = nn.GRU(k * d, k * h, batch_first=True)
        self.head = nn.Linear(k * h, k)
        with torch.no_grad():
            for name, p in self.named_parameters():
                p.zero_()
                mask = torch.zeros_like(p)
                for i, one in enumerate(heads):
                    block = self._block(name, i)
                    p[block] = dict(one.named_parameters())[name].reshape(p[block].shape)
                    mask[block] = 1
                self.register_buffer(f"mask_{name.replace('.', '_')}", mask)
        self.to(device)
        for name, p in self.named_parameters():  # the cross-weights stay zero: Adam never moves a zero-gradient weight
            p.register_hook(lambda grad, name=name: grad * getattr(self, f"mask_{name.replace('.', '_')}"))

    def _block(self, name: str, i: int) -> tuple[torch.Tensor, ...]:
        """The index of member i's weights in the grouped parameter `name`."""
        k, d, h = self.k, self.d, self.h
        if name.startswith("gru."):
            rows = torch.cat([torch.arange(g * k * h + i * h, g * k * h + (i + 1) * h) for g in range(GATES)])
            if "bias" in name:
                return (rows,)
            width = d if "weight_ih" in name else h
            return rows[:, None], torch.arange(i * width, (i + 1) * width)[None, :]
        if name == "head.weight":
            return torch.tensor([[i]]), torch.arange(i * h, (i + 1) * h)[None, :]
        return (torch.tensor([i]),)  # head.bias

    def member(self, i: int) -> _GRUHead:
        """Member i as a plain `_GRUHead` with its trained weights."""
        one = _GRUHead(self.d, self.h).to(self.head.weight.device)
        grouped = dict(self.named_parameters())
        with torch.no_grad():
            for name, p in one.named_parameters():
                p.copy_(grouped[name][self._block(name, i)].reshape(p.shape))
        return one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0])


def _split(n: int, rng: np.random.Generator, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    cut = min(max(1, int(round(n * train_fraction))), n - 1)
    return order[:cut], order[cut:]


def discriminative_scores(real: np.ndarray, others: Sequence[np.ndarray], iterations: int, batch_size: int,
                          seeds: Sequence[int], device: torch.device) -> list[float]:
    """`discriminative_score(real, others[i], seed=seeds[i])` for every i, trained as one grouped model."""
    rngs = [np.random.default_rng(seed) for seed in seeds]
    real_t = torch.tensor(real, dtype=torch.float32, device=device)
    other_t = [torch.tensor(o, dtype=torch.float32, device=device) for o in others]
    splits = [(_split(len(real), rng), _split(len(o), rng)) for rng, o in zip(rngs, others)]
    heads = [_seeded_head(real.shape[2], _hidden(real.shape[2]), seed) for seed in seeds]
    model = GroupedHeads(heads, device)
    opt = torch.optim.Adam(model.parameters())
    labels = torch.cat([torch.ones(batch_size, device=device), torch.zeros(batch_size, device=device)])
    for _ in range(iterations):
        # as in TimeGAN: a batch of each kind per iteration (one forward pass for both); the classifier reads the
        # output at the final step
        batches = []
        for rng, o, ((real_train, _), (other_train, _)) in zip(rngs, other_t, splits):
            r = real_t[real_train[rng.integers(len(real_train), size=batch_size)]]
            s = o[other_train[rng.integers(len(other_train), size=batch_size)]]
            batches.append(torch.cat([r, s]))
        logits = model(torch.cat(batches, dim=2))[:, -1, :]  # (2 * batch, members)
        loss = sum(F.binary_cross_entropy_with_logits(logits[:, i], labels) for i in range(len(seeds)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    scores = []
    with torch.no_grad():
        for i, (o, ((_, real_test), (_, other_test))) in enumerate(zip(other_t, splits)):
            head = model.member(i)
            correct = (head(real_t[real_test])[:, -1] > 0).sum() + (head(o[other_test])[:, -1] <= 0).sum()
            scores.append(abs(correct.item() / (len(real_test) + len(other_test)) - 0.5))
    return scores


def discriminative_score(real: np.ndarray, synthetic: np.ndarray, iterations: int, batch_size: int, seed: int,
                         device: torch.device) -> float:
    return discriminative_scores(real, [synthetic], iterations, batch_size, [seed], device)[0]


def _predictive_xy(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs: the other features at steps 0..T-2; target: the last feature at steps 1..T-1.
    With a single feature the model sees that feature itself (plain one-step-ahead forecasting)."""
    inputs = windows[:, :-1, :-1] if windows.shape[2] > 1 else windows[:, :-1, :]
    return inputs, windows[:, 1:, -1]


def predictive_scores(trains: Sequence[np.ndarray], test_windows: np.ndarray, iterations: int, batch_size: int,
                      seeds: Sequence[int], device: torch.device) -> list[float]:
    """`predictive_score(trains[i], test_windows, seed=seeds[i])` for every i, trained as one grouped model."""
    rngs = [np.random.default_rng(seed) for seed in seeds]
    data = [_predictive_xy(torch.tensor(t, dtype=torch.float32, device=device)) for t in trains]
    x_test, y_test = _predictive_xy(torch.tensor(test_windows, dtype=torch.float32, device=device))
    heads = [_seeded_head(data[0][0].shape[2], _hidden(test_windows.shape[2]), seed) for seed in seeds]
    model = GroupedHeads(heads, device)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(iterations):
        picks = [torch.as_tensor(rng.integers(len(x), size=batch_size), device=device) for rng, (x, _) in zip(rngs, data)]
        out = torch.sigmoid(model(torch.cat([x[pick] for pick, (x, _) in zip(picks, data)], dim=2)))
        loss = sum(F.l1_loss(out[:, :, i], y[pick]) for i, (pick, (_, y)) in enumerate(zip(picks, data)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return [F.l1_loss(torch.sigmoid(model.member(i)(x_test)), y_test).item() for i in range(len(seeds))]


def predictive_score(train_windows: np.ndarray, test_windows: np.ndarray, iterations: int, batch_size: int, seed: int,
                     device: torch.device) -> float:
    """Train the forecaster on `train_windows` (synthetic, or real for the reference row), MAE on `test_windows`."""
    return predictive_scores([train_windows], test_windows, iterations, batch_size, [seed], device)[0]
