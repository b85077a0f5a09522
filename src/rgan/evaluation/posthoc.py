"""TimeGAN's post-hoc scores (Yoon et al., NeurIPS 2019), re-implemented in torch.

- discriminative: a 1-layer GRU classifier (hidden = max(1, dim // 2)) learns to tell real from synthetic
  windows on 80% of each; score = |test accuracy - 0.5| (0 is best).
- predictive (train on synthetic, test on real): a 1-layer GRU predicts the last feature one step ahead
  from the other columns; score = mean absolute error on real windows (lower is better).

Sequences mode (`masked`: the last column is `_valid`, 1 on a sequence's steps, 0 on its padding): the classifier
reads its output at each sequence's last step, and the forecaster is trained and scored on valid steps only.

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


def _last_steps(batch: torch.Tensor, masked: bool) -> torch.Tensor:
    """Each row's last step: the final one, or in sequences mode the last valid one."""
    if not masked:
        return torch.full((batch.shape[0],), batch.shape[1] - 1, device=batch.device)
    return (batch[..., -1].sum(dim=1).long() - 1).clamp(min=0)


def _at(outputs: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """outputs (rows, seq_len[, members]) at each row's step."""
    return outputs[torch.arange(len(steps), device=outputs.device), steps]


def discriminative_scores(real: np.ndarray, others: Sequence[np.ndarray], iterations: int, batch_size: int,
                          seeds: Sequence[int], device: torch.device, masked: bool = False) -> list[float]:
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
        outputs = model(torch.cat(batches, dim=2))  # (2 * batch, seq_len, members)
        loss = sum(F.binary_cross_entropy_with_logits(_at(outputs[:, :, i], _last_steps(b, masked)), labels)
                   for i, b in enumerate(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    scores = []
    with torch.no_grad():
        for i, (o, ((_, real_test), (_, other_test))) in enumerate(zip(other_t, splits)):
            head = model.member(i)
            r, s = real_t[real_test], o[other_test]
            correct = (_at(head(r), _last_steps(r, masked)) > 0).sum() + (_at(head(s), _last_steps(s, masked)) <= 0).sum()
            scores.append(abs(correct.item() / (len(real_test) + len(other_test)) - 0.5))
    return scores


def discriminative_score(real: np.ndarray, synthetic: np.ndarray, iterations: int, batch_size: int, seed: int,
                         device: torch.device) -> float:
    return discriminative_scores(real, [synthetic], iterations, batch_size, [seed], device)[0]


def _predictive_xy(windows: torch.Tensor, target: int | None = None, masked: bool = False) -> tuple[torch.Tensor, ...]:
    """Inputs: the other columns at steps 0..T-2; target: column `target` (default the last) at steps 1..T-1; the
    weight of each target step (1, or in sequences mode whether it is a valid step). With a single column the model
    sees that column itself (plain one-step-ahead forecasting)."""
    target = windows.shape[2] - 1 if target is None else target
    others = [c for c in range(windows.shape[2]) if c != target]
    inputs = windows[:, :-1, others] if others else windows[:, :-1, :]
    weights = windows[:, 1:, -1] if masked else torch.ones_like(windows[:, 1:, target])
    return inputs, windows[:, 1:, target], weights


def _l1(out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, masked: bool) -> torch.Tensor:
    return F.l1_loss(out, y) if not masked else ((out - y).abs() * weights).sum() / weights.sum()


def predictive_scores(trains: Sequence[np.ndarray], test_windows: np.ndarray, iterations: int, batch_size: int,
                      seeds: Sequence[int], device: torch.device, target: int | None = None, masked: bool = False) -> list[float]:
    """`predictive_score(trains[i], test_windows, seed=seeds[i])` for every i, trained as one grouped model."""
    rngs = [np.random.default_rng(seed) for seed in seeds]
    data = [_predictive_xy(torch.tensor(t, dtype=torch.float32, device=device), target, masked) for t in trains]
    x_test, y_test, w_test = _predictive_xy(torch.tensor(test_windows, dtype=torch.float32, device=device), target, masked)
    heads = [_seeded_head(data[0][0].shape[2], _hidden(test_windows.shape[2]), seed) for seed in seeds]
    model = GroupedHeads(heads, device)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(iterations):
        picks = [torch.as_tensor(rng.integers(len(x), size=batch_size), device=device) for rng, (x, _, _) in zip(rngs, data)]
        out = torch.sigmoid(model(torch.cat([x[pick] for pick, (x, _, _) in zip(picks, data)], dim=2)))
        loss = sum(_l1(out[:, :, i], y[pick], w[pick], masked) for i, (pick, (_, y, w)) in enumerate(zip(picks, data)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return [_l1(torch.sigmoid(model.member(i)(x_test)), y_test, w_test, masked).item() for i in range(len(seeds))]


def predictive_score(train_windows: np.ndarray, test_windows: np.ndarray, iterations: int, batch_size: int, seed: int,
                     device: torch.device) -> float:
    """Train the forecaster on `train_windows` (synthetic, or real for the reference row), MAE on `test_windows`."""
    return predictive_scores([train_windows], test_windows, iterations, batch_size, [seed], device)[0]
