"""Recurrent generator and discriminator (RGAN / C-RNN-GAN style) on torch's fused RNN kernels."""

from __future__ import annotations

import torch
from torch import nn

from rgan.config import ModelConfig
from rgan.models.outputs import Groups, unit_outputs

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Generator(nn.Module):
    """Noise sequence (batch, seq_len, z_dim) -> values in [0, 1] (batch, seq_len, dim), one vector per step; a
    softmax over each categorical block in `groups`.

    Conditional (RCGAN): with `conditions` > 0 the last `conditions` inputs of every step are the sequence's
    attribute vector, appended to the noise by the caller, and the output is the generated features followed by
    those attributes, so the discriminator judges each sequence together with its condition."""

    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0):
        super().__init__()
        self.groups = tuple(groups)
        self.z_dim = cfg.z_dim
        self.z_global_dim = cfg.z_global_dim
        self.conditions = conditions
        self.rnn = CELLS[cfg.cell](cfg.z_dim + cfg.z_global_dim + conditions, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.rnn(z)
        out = unit_outputs(self.head(hidden), self.groups, hard=self.training)
        return torch.cat([out, z[..., -self.conditions:]], dim=-1) if self.conditions else out

    def noise(self, n: int, seq_len: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return step_and_sequence_noise(n, seq_len, self.z_dim, self.z_global_dim, generator, device)


def step_and_sequence_noise(n: int, seq_len: int, z_dim: int, z_global_dim: int, generator=None, device=None) -> torch.Tensor:
    """Fresh noise at every step, plus an optional per-sequence part repeated over time: a latent for what stays
    fixed within a sequence (its level, frequency, regime) that the network need not carry."""
    z = torch.randn(n, seq_len, z_dim, generator=generator, device=device)
    if not z_global_dim:
        return z
    z_seq = torch.randn(n, 1, z_global_dim, generator=generator, device=device).expand(n, seq_len, -1)
    return torch.cat([z, z_seq], dim=2)


class Discriminator(nn.Module):
    """Sequence (batch, seq_len, dim) -> one real/fake logit per time step (batch, seq_len).

    Multi-scale (`discriminator_scales` beyond [1], as MelGAN's and pix2pixHD's discriminators, over time): scale k
    is a recurrent network of its own reading the means of k consecutive steps, so a few of its steps span the
    whole window, where the per-step network sees slow structure (a cycle, a trend) only through a long recurrence.
    Each coarse logit is repeated over the k steps it covers and the scales follow each other along the second
    axis (batch, scales x seq_len): every loss then averages the scales with equal weight, each scale its own
    per-step real/fake term, and a mask of (batch, seq_len) applies to each scale (losses.masked_mean)."""

    def __init__(self, cfg: ModelConfig, dim: int):
        super().__init__()
        hidden = cfg.discriminator_hidden or cfg.hidden
        layers = cfg.discriminator_layers or cfg.layers
        self.units = hidden * (2 if cfg.bidirectional_discriminator else 1)
        self.scales = tuple(cfg.discriminator_scales)

        def recurrent() -> nn.Module:
            return CELLS[cfg.cell](dim, hidden, num_layers=layers, batch_first=True, bidirectional=cfg.bidirectional_discriminator)

        # the per-step network keeps its names (rnn, head): one-scale checkpoints load as they always did
        self.rnn, self.head = recurrent(), nn.Linear(self.units, 1)
        self.coarse = nn.ModuleList(nn.ModuleDict({"rnn": recurrent(), "head": nn.Linear(self.units, 1)}) for _ in self.scales[1:])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The recurrent layers' outputs (batch, seq_len, units x scales): what the logits are read from; a coarse
        step's outputs repeated over the steps it covers."""
        per_step = self.rnn(x)[0]
        if not self.coarse:
            return per_step
        seq_len = x.shape[1]
        parts = [per_step]
        for scale, network in zip(self.scales[1:], self.coarse):
            # the means of `scale` consecutive steps; the last block, when shorter, averages the steps it has
            means = nn.functional.avg_pool1d(x.transpose(1, 2), scale, ceil_mode=True).transpose(1, 2)
            parts.append(network["rnn"](means)[0].repeat_interleave(scale, dim=1)[:, :seq_len])
        return torch.cat(parts, dim=-1)

    def read(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (batch, scales x seq_len) read from `features`."""
        if not self.coarse:
            return self.head(features).squeeze(-1)
        heads = [self.head, *(network["head"] for network in self.coarse)]
        return torch.cat([head(part).squeeze(-1) for head, part in zip(heads, features.split(self.units, dim=-1))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.read(self.features(x))


def build_models(cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0) -> tuple[Generator, Discriminator]:
    """`dim`: every column of the data, the `conditions` attribute columns last."""
    return Generator(cfg, dim - conditions, groups, conditions), Discriminator(cfg, dim)
