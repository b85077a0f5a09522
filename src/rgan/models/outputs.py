"""The last activation of every network that emits data: values in [0, 1] for numeric features, a softmax over each
categorical column's one-hot block (`groups`: (start, stop) of each block), so a generated category is a
distribution over its labels as a real one is a one-hot vector."""

from __future__ import annotations

import torch

Groups = tuple[tuple[int, int], ...]


def unit_outputs(logits: torch.Tensor, groups: Groups = ()) -> torch.Tensor:
    if not groups:
        return torch.sigmoid(logits)  # numeric data: exactly as before categories existed
    parts, at = [], 0
    for start, stop in groups:
        if start > at:
            parts.append(torch.sigmoid(logits[..., at:start]))
        parts.append(torch.softmax(logits[..., start:stop], dim=-1))
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
