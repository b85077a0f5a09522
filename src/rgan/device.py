"""Pick the torch device: `auto` means CUDA when present, else CPU."""

from __future__ import annotations

import re

import torch

from rgan.config import DEVICE_CHOICES, DEVICE_PATTERN
from rgan.errors import RganError


def resolve_device(name: str) -> torch.device:
    if not re.fullmatch(DEVICE_PATTERN, name):
        raise RganError(f"device '{name}': {DEVICE_CHOICES}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RganError(f"device '{name}' requested but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
