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
    """Sequence (batch, seq_len, dim) -> one real/fake logit per time step (batch, seq_len)."""

    def __init__(self, cfg: ModelConfig, dim: int):
        super().__init__()
        hidden = cfg.discriminator_hidden or cfg.hidden
        layers = cfg.discriminator_layers or cfg.layers
        directions = 2 if cfg.bidirectional_discriminator else 1
        self.rnn = CELLS[cfg.cell](
            dim, hidden, num_layers=layers, batch_first=True, bidirectional=cfg.bidirectional_discriminator
        )
        self.head = nn.Linear(hidden * directions, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The recurrent layer's outputs (batch, seq_len, hidden x directions): what the logits are read from."""
        return self.rnn(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


def build_models(cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0) -> tuple[Generator, Discriminator]:
    """`dim`: every column of the data, the `conditions` attribute columns last."""
    return Generator(cfg, dim - conditions, groups, conditions), Discriminator(cfg, dim)
