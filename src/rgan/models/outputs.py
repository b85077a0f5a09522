"""The last activation of every network that emits data: values in [0, 1] for numeric features, a softmax over each
categorical column's one-hot block (`groups`: (start, stop) of each block).

While training, a block is its most likely category one-hot in the forward pass with the softmax's gradient
(straight-through): a discriminator that saw soft vectors against real one-hot ones would tell them apart by that
alone (measured: 0.46 discriminative, against its floor 0.03, on a three-state dataset), and sampling takes the
most likely category too, so the generator is trained on what it ships."""

from __future__ import annotations

import torch

Groups = tuple[tuple[int, int], ...]


def unit_outputs(logits: torch.Tensor, groups: Groups = (), hard: bool = False) -> torch.Tensor:
    if not groups:
        return torch.sigmoid(logits)  # numeric data: exactly as before categories existed
    parts, at = [], 0
    for start, stop in groups:
        if start > at:
            parts.append(torch.sigmoid(logits[..., at:start]))
        soft = torch.softmax(logits[..., start:stop], dim=-1)
        if hard:
            one_hot = torch.nn.functional.one_hot(soft.argmax(dim=-1), stop - start).to(soft.dtype)
            soft = soft + (one_hot - soft).detach()
        parts.append(soft)
        at = stop
    if at < logits.shape[-1]:
        parts.append(torch.sigmoid(logits[..., at:]))
    return torch.cat(parts, dim=-1)


def harden(values: torch.Tensor, groups: Groups) -> torch.Tensor:
    """Each block's most likely category as a one-hot vector: what a sampled sequence holds."""
    if not groups:
        return values
    out = values.clone()
    for start, stop in groups:
        block = values[..., start:stop]
        out[..., start:stop] = torch.nn.functional.one_hot(block.argmax(dim=-1), stop - start).to(values.dtype)
    return out
