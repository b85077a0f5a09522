"""An exponential moving average of a network's weights, updated on the device without host syncs.

torch's AveragedModel reads its update count on the host at every update (`n_averaged == 0`, and copies it to the
device): on a GPU each read waits for every queued kernel, once per training step. This average keeps that count
on the host as well, and does exactly the same arithmetic (a copy at the first update, then
`_foreach_lerp_(average, weights, 1 - decay)`), so on the CPU its weights are bit for bit AveragedModel's. Its
state_dict has AveragedModel's layout (`module.*`, `n_averaged`): checkpoints written with either load in both.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage(nn.Module):
    def __init__(self, network: nn.Module, decay: float):
        super().__init__()
        self.module = copy.deepcopy(network)
        self.decay = decay
        # on the CPU, as AveragedModel has it; incremented there, never read back from a device
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))
        self.updates = 0  # the same count on the host: decides the first update's copy

    @torch.no_grad()
    def update_parameters(self, network: nn.Module) -> None:
        averaged = list(self.module.parameters())
        current = [p.detach() for p in network.parameters()]
        if self.updates == 0:
            torch._foreach_copy_(averaged, current)
        else:
            torch._foreach_lerp_(averaged, current, 1 - self.decay)
        for mine, theirs in zip(self.module.buffers(), network.buffers()):  # buffers follow the network, unaveraged
            mine.copy_(theirs)
        self.n_averaged += 1
        self.updates += 1

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.updates = int(self.n_averaged)  # once, when a checkpoint is loaded
        return result

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
