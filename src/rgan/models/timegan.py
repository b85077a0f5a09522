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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The recurrent layers' outputs (batch, seq_len, hidden): what the head reads."""
        return self.rnn(x)[0]

    def read(self, features: torch.Tensor) -> torch.Tensor:
        """The head's outputs from `features`."""
        out = self.head(features)
        return out.squeeze(-1) if self.logits else unit_outputs(out, self.groups, hard=self.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.read(self.features(x))


def with_condition(values: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    """`values` followed by the attribute vector at every step (unchanged without attributes)."""
    return values if condition is None else torch.cat([values, condition.to(values.dtype)], dim=-1)


class TimeGanSampler(nn.Module):
    """What ships: noise -> generator -> supervisor -> recovery, values in [0, 1]. Conditional as rgan's generator:
    with `conditions` > 0 the noise is followed by the attribute vector at every step, the supervisor and the
    recovery see it beside the latent, and the output is the features followed by it."""

    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0):
        super().__init__()
        latent = cfg.latent_dim or cfg.hidden
        self.z_dim, self.z_global_dim = cfg.z_dim, cfg.z_global_dim
        self.conditions = conditions
        self.generator = RecurrentMap(cfg, cfg.z_dim + cfg.z_global_dim + conditions, latent)
        self.supervisor = RecurrentMap(cfg, latent + conditions, latent)
        self.recovery = RecurrentMap(cfg, latent + conditions, dim, groups=groups)

    def noise(self, n: int, seq_len: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return step_and_sequence_noise(n, seq_len, self.z_dim, self.z_global_dim, generator, device)

    def supervise(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Latent sequence -> its next steps."""
        return self.supervisor(with_condition(h, condition))

    def recover(self, h: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Latent sequence -> values (followed by the attributes, as the data holds them)."""
        return with_condition(self.recovery(with_condition(h, condition)), condition)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        condition = z[..., -self.conditions:] if self.conditions else None
        return self.recover(self.supervise(self.generator(z), condition), condition)


class TimeGanNetworks(nn.Module):
    """`dim`: every column of the data, the `conditions` attribute columns last: the embedder reads them all, the
    discriminator sees the attributes beside each latent."""

    def __init__(self, cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0):
        super().__init__()
        latent = cfg.latent_dim or cfg.hidden
        self.sampler = TimeGanSampler(cfg, dim - conditions, groups, conditions)
        self.embedder = RecurrentMap(cfg, dim, latent)
        self.discriminator = RecurrentMap(cfg, latent + conditions, 1, layers=cfg.discriminator_layers, logits=True)
