"""TimeGAN's networks (Yoon, Jarrett & van der Schaar, NeurIPS 2019), all recurrent: embedder X -> H, recovery
H -> X, generator Z -> E (latent), supervisor H -> next H, discriminator H -> logits. Sampling runs
generator -> supervisor -> recovery."""

from __future__ import annotations

import torch
from torch import nn

from rgan.config import ModelConfig
from rgan.models.outputs import Groups, unit_outputs
from rgan.models.recurrent import CELLS, step_and_sequence_noise


class RecurrentMap(nn.Module):
    """Sequence -> sequence: a recurrent layer stack and a per-step linear head (sigmoid, softmax over `groups`,
    unless `logits`)."""

    def __init__(self, cfg: ModelConfig, inputs: int, outputs: int, layers: int | None = None, logits: bool = False,
                 groups: Groups = ()):
        super().__init__()
        self.groups = tuple(groups)
        self.rnn = CELLS[cfg.cell](inputs, cfg.hidden, num_layers=layers or cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, outputs)
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.rnn(x)[0])
        return out.squeeze(-1) if self.logits else unit_outputs(out, self.groups, hard=self.training)


class TimeGanSampler(nn.Module):
    """What ships: noise -> generator -> supervisor -> recovery, values in [0, 1]."""

    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = ()):
        super().__init__()
        latent = cfg.latent_dim or cfg.hidden
        self.z_dim, self.z_global_dim = cfg.z_dim, cfg.z_global_dim
        self.generator = RecurrentMap(cfg, cfg.z_dim + cfg.z_global_dim, latent)
        self.supervisor = RecurrentMap(cfg, latent, latent)
        self.recovery = RecurrentMap(cfg, latent, dim, groups=groups)

    def noise(self, n: int, seq_len: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return step_and_sequence_noise(n, seq_len, self.z_dim, self.z_global_dim, generator, device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.recovery(self.supervisor(self.generator(z)))


class TimeGanNetworks(nn.Module):
    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = ()):
        super().__init__()
        latent = cfg.latent_dim or cfg.hidden
        self.sampler = TimeGanSampler(cfg, dim, groups)
        self.embedder = RecurrentMap(cfg, dim, latent)
        self.discriminator = RecurrentMap(cfg, latent, 1, layers=cfg.discriminator_layers, logits=True)
