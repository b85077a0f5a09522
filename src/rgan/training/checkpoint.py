"""Checkpoint and generator files: plain dicts of tensors and primitive values.

Both load with torch.load(weights_only=True): nothing is unpickled, so a file from elsewhere cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rgan.atomic import atomic_path
from rgan.errors import RganError

CHECKPOINT_FORMAT = "rgan-checkpoint/1"
GENERATOR_FORMAT = "rgan-generator/1"


def save(obj: dict[str, Any], path: str | Path) -> None:
    # Through a file object: saved by path, torch names the archive after the (random) temporary file,
    # and the same weights would not give the same bytes.
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        torch.save(obj, f)


def load(path: str | Path, expected_format: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RganError(f"file not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a corrupt file or one holding pickled objects
        raise RganError(f"{path} is not a loadable rgan file: {exc}") from None
    if not isinstance(obj, dict) or obj.get("format") != expected_format:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise RganError(f"{path} is not an {expected_format} file (found {found!r})")
    return obj
