"""TimeGAN's post-hoc scores (Yoon et al., NeurIPS 2019), re-implemented in torch.

- discriminative: a 1-layer GRU classifier (hidden = max(1, dim // 2)) learns to tell real from synthetic
  windows on 80% of each; score = |test accuracy - 0.5| (0 is best).
- predictive (train on synthetic, test on real): a 1-layer GRU predicts the last feature one step ahead
  from the other columns; score = mean absolute error on real windows (lower is better).

Sequences mode (`masked`: the last column is `_valid`, 1 on a sequence's steps, 0 on its padding): the classifier
reads its output at each sequence's last step, and the forecaster is trained and scored on valid steps only.

Several scorings (the repeats of an evaluation, the per-condition classifiers; in general any mix of classifiers
and forecasters: see `scores_together`) can train as one grouped model: one GRU whose weights are block-diagonal,
one block per member, so the members never see each other (their cross-weights are zero and their gradients masked,
so Adam never moves them). A member's initial weights, batches and seed are exactly those it would have alone; a
forecaster's batch is padded with zero rows and a zero last step to the classifiers' shape (its loss reads neither:
the GRU is causal and rows are independent), and a member that has done its iterations is copied out and then
ignored. These tiny GRUs cost what their per-step operations cost, not their size, so a group trains in about the
time of its longest member alone. Only the order of float sums inside a matrix product differs from training alone.
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
    """`_GRUHead`s as one GRU (hidden: the sum of theirs; inputs: the sum of theirs) and one linear head (an output
    per member), their weights on the block diagonal. Input (batch, seq, sum of inputs): member i reads its own
    slice of the features, in member order; output (batch, seq, members)."""

    def __init__(self, heads: Sequence[_GRUHead], device: torch.device):
        super().__init__()
        self.inputs = [one.gru.input_size for one in heads]
        self.hiddens = [one.gru.hidden_size for one in heads]
        self.gru = nn.GRU(sum(self.inputs), sum(self.hiddens), batch_first=True)
        self.head = nn.Linear(sum(self.hiddens), len(heads))
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
        h, total = self.hiddens[i], sum(self.hiddens)
        first = sum(self.hiddens[:i])
        own = torch.arange(first, first + h)
        if name.startswith("gru."):
            rows = torch.cat([g * total + own for g in range(GATES)])
            if "bias" in name:
                return (rows,)
            if "weight_ih" in name:
                start = sum(self.inputs[:i])
                return rows[:, None], torch.arange(start, start + self.inputs[i])[None, :]
            return rows[:, None], own[None, :]
        if name == "head.weight":
            return torch.tensor([[i]]), own[None, :]
        return (torch.tensor([i]),)  # head.bias

    def member(self, i: int) -> _GRUHead:
        """Member i as a plain `_GRUHead` with its trained weights."""
        one = _GRUHead(self.inputs[i], self.hiddens[i]).to(self.head.weight.device)
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


class _Discriminative:
    """A classifier of real against other windows (TimeGAN's discriminative score), as a member of a group."""

    def __init__(self, real: torch.Tensor, other: torch.Tensor, iterations: int, batch_size: int, seed: int, masked: bool):
        self.real, self.other, self.iterations, self.batch_size, self.masked = real, other, iterations, batch_size, masked
        self.rng = np.random.default_rng(seed)
        self.real_split, self.other_split = _split(len(real), self.rng), _split(len(other), self.rng)
        self.head = _seeded_head(real.shape[2], _hidden(real.shape[2]), seed)
        self.rows, self.steps = 2 * batch_size, real.shape[1]
        self.labels = torch.cat([torch.ones(batch_size, device=real.device), torch.zeros(batch_size, device=real.device)])

    def batch(self, rows: int, steps: int) -> torch.Tensor:
        # as in TimeGAN: a batch of each kind per iteration (one forward pass for both)
        (real_train, _), (other_train, _) = self.real_split, self.other_split
        r = self.real[real_train[self.rng.integers(len(real_train), size=self.batch_size)]]
        s = self.other[other_train[self.rng.integers(len(other_train), size=self.batch_size)]]
        both = torch.cat([r, s])
        self.last = _last_steps(both, self.masked)
        return _pad(both, rows, steps)

    def loss(self, outputs: torch.Tensor) -> torch.Tensor:
        """outputs (rows, steps): the classifier reads the output at each window's final (last valid) step."""
        return F.binary_cross_entropy_with_logits(_at(outputs, self.last), self.labels)

    def score(self, head: _GRUHead) -> float:
        (_, real_test), (_, other_test) = self.real_split, self.other_split
        r, s = self.real[real_test], self.other[other_test]
        correct = (_at(head(r), _last_steps(r, self.masked)) > 0).sum() + (_at(head(s), _last_steps(s, self.masked)) <= 0).sum()
        return abs(correct.item() / (len(real_test) + len(other_test)) - 0.5)


class _Predictive:
    """A next-step forecaster trained on `train` windows and scored on `test` (TimeGAN's predictive score)."""

    def __init__(self, train: torch.Tensor, test: tuple[torch.Tensor, ...], iterations: int, batch_size: int, seed: int,
                 target: int | None, masked: bool):
        self.x, self.y, self.w = _predictive_xy(train, target, masked)
        self.test, self.iterations, self.batch_size, self.masked = test, iterations, batch_size, masked
        self.rng = np.random.default_rng(seed)
        self.head = _seeded_head(self.x.shape[2], _hidden(train.shape[2]), seed)
        self.rows, self.steps = batch_size, self.x.shape[1]

    def batch(self, rows: int, steps: int) -> torch.Tensor:
        self.pick = torch.as_tensor(self.rng.integers(len(self.x), size=self.batch_size), device=self.x.device)
        return _pad(self.x[self.pick], rows, steps)

    def loss(self, outputs: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(outputs[:self.rows, :self.steps])
        return _l1(out, self.y[self.pick], self.w[self.pick], self.masked)

    def score(self, head: _GRUHead) -> float:
        x_test, y_test, w_test = self.test
        return _l1(torch.sigmoid(head(x_test)), y_test, w_test, self.masked).item()


def _pad(batch: torch.Tensor, rows: int, steps: int) -> torch.Tensor:
    """`batch` (n, t, d) with zero rows and zero last steps up to (rows, steps, d)."""
    if batch.shape[0] == rows and batch.shape[1] == steps:
        return batch
    return F.pad(batch, (0, 0, 0, steps - batch.shape[1], 0, rows - batch.shape[0]))


def train_together(members: Sequence[_Discriminative | _Predictive], device: torch.device) -> list[float]:
    """Train `members` as one grouped model, each for its own iterations; their scores, in order."""
    rows, steps = max(m.rows for m in members), max(m.steps for m in members)
    model = GroupedHeads([m.head for m in members], device)
    opt = torch.optim.Adam(model.parameters())
    trained: list[_GRUHead | None] = [model.member(i) if m.iterations <= 0 else None for i, m in enumerate(members)]
    idle: dict[int, torch.Tensor] = {}  # the input of a member that has done its iterations
    for iteration in range(max(m.iterations for m in members)):
        inputs, active = [], []
        for i, m in enumerate(members):
            if iteration < m.iterations:
                inputs.append(m.batch(rows, steps))
                active.append(i)
            else:
                inputs.append(idle.setdefault(i, torch.zeros(rows, steps, m.head.gru.input_size, device=device)))
        outputs = model(torch.cat(inputs, dim=2))  # (rows, steps, members)
        loss = sum(members[i].loss(outputs[:, :, i]) for i in active)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for i in active:
            if iteration + 1 == members[i].iterations:
                trained[i] = model.member(i)
    with torch.no_grad():
        return [m.score(head) for m, head in zip(members, trained)]


def discriminative_members(real: np.ndarray, others: Sequence[np.ndarray], iterations: int, batch_size: int,
                           seeds: Sequence[int], device: torch.device, masked: bool = False) -> list[_Discriminative]:
    real_t = torch.tensor(real, dtype=torch.float32, device=device)
    return [_Discriminative(real_t, torch.tensor(o, dtype=torch.float32, device=device), iterations, batch_size, seed, masked)
            for o, seed in zip(others, seeds)]


def predictive_members(trains: Sequence[np.ndarray], test_windows: np.ndarray, iterations: int, batch_size: int,
                       seeds: Sequence[int], device: torch.device, target: int | None = None, masked: bool = False) -> list[_Predictive]:
    test = _predictive_xy(torch.tensor(test_windows, dtype=torch.float32, device=device), target, masked)
    return [_Predictive(torch.tensor(t, dtype=torch.float32, device=device), test, iterations, batch_size, seed, target, masked)
            for t, seed in zip(trains, seeds)]


MEMBERS = {"discriminative": discriminative_members, "predictive": predictive_members}


def scores_together(specs: Sequence[tuple[str, tuple, dict]], device: torch.device) -> list[list[float]]:
    """Several scorings as one grouped training: each spec is (`discriminative` or `predictive`, the arguments of
    `discriminative_scores` / `predictive_scores` but the device); the scores of each spec, in order."""
    groups = [MEMBERS[kind](*args, **kwargs, device=device) for kind, args, kwargs in specs]
    scores = train_together([m for group in groups for m in group], device)
    out, begin = [], 0
    for group in groups:
        out.append(scores[begin:begin + len(group)])
        begin += len(group)
    return out


def discriminative_scores(real: np.ndarray, others: Sequence[np.ndarray], iterations: int, batch_size: int,
                          seeds: Sequence[int], device: torch.device, masked: bool = False) -> list[float]:
    """`discriminative_score(real, others[i], seed=seeds[i])` for every i, trained as one grouped model."""
    return train_together(discriminative_members(real, others, iterations, batch_size, seeds, device, masked), device)


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
    return train_together(predictive_members(trains, test_windows, iterations, batch_size, seeds, device, target, masked), device)


def predictive_score(train_windows: np.ndarray, test_windows: np.ndarray, iterations: int, batch_size: int, seed: int,
                     device: torch.device) -> float:
    """Train the forecaster on `train_windows` (synthetic, or real for the reference row), MAE on `test_windows`."""
    return predictive_scores([train_windows], test_windows, iterations, batch_size, [seed], device)[0]
