"""A recurrent VAE-GAN: encoder X -> per-step latent mean and log-variance; recurrent decoder latent -> X, which is
also the generator of an adversarial game with a recurrent discriminator. Sampling draws latents from the prior."""

from __future__ import annotations

import torch
from torch import nn

from rgan.config import ModelConfig
from rgan.models.outputs import Groups, unit_outputs
from rgan.models.recurrent import CELLS


class VaeDecoder(nn.Module):
    """Latent sequence (prior N(0, I) per step) -> values in [0, 1]. Conditional as rgan's generator: with
    `conditions` > 0 the attribute vector follows the latent at every step and follows the output too."""

    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0):
        super().__init__()
        self.groups = tuple(groups)
        self.latent_dim = cfg.latent_dim or cfg.hidden
        self.conditions = conditions
        self.rnn = CELLS[cfg.cell](self.latent_dim + conditions, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, dim)

    def noise(self, n: int, seq_len: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(n, seq_len, self.latent_dim, generator=generator, device=device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = unit_outputs(self.head(self.rnn(z)[0]), self.groups, hard=self.training)
        return torch.cat([out, z[..., -self.conditions:]], dim=-1) if self.conditions else out


class VaeEncoder(nn.Module):
    """Sequence (every column, attributes included) -> per-step posterior mean and log-variance."""

    def __init__(self, cfg: ModelConfig, dim: int):
        super().__init__()
        latent = cfg.latent_dim or cfg.hidden
        # bidirectional: each step's posterior sees the whole window
        self.rnn = CELLS[cfg.cell](dim, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * cfg.hidden, 2 * latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.head(self.rnn(x)[0]).chunk(2, dim=-1)
        return mean, log_var.clamp(-10, 10)
