"""The networks of each model kind, and the one network each kind ships for sampling."""

from torch import nn

from rgan.config import ModelConfig
from rgan.models.outputs import Groups
from rgan.models.recurrent import Discriminator, Generator, build_models
from rgan.models.timegan import TimeGanSampler
from rgan.models.vaegan import VaeDecoder

SAMPLERS = {"rgan": Generator, "timegan": TimeGanSampler, "vaegan": VaeDecoder}


def build_sampler(cfg: ModelConfig, dim: int, groups: Groups = (), conditions: int = 0) -> nn.Module:
    """The network a generator file holds for `cfg.kind`: noise(n, seq_len) -> forward -> (n, seq_len, dim) in [0, 1]
    (a softmax over each categorical block in `groups`); with `conditions` attribute columns (last of `dim`), the
    noise is followed by the attribute vector at every step, and so is the output."""
    return SAMPLERS[cfg.kind](cfg, dim - conditions, groups, conditions)


__all__ = ["Discriminator", "Generator", "build_models", "build_sampler"]
