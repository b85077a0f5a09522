"""Checkpoint and generator files: plain dicts of tensors and primitive values.

Both load with torch.load(weights_only=True): nothing is unpickled, so a file from elsewhere cannot run code.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import torch

from rgan.atomic import atomic_path
from rgan.errors import RganError
from rgan.notes import plain

CHECKPOINT_FORMAT = "rgan-checkpoint/1"
GENERATOR_FORMAT = "rgan-generator/1"


def save(obj: dict[str, Any], path: str | Path) -> None:
    # Serialised in memory, then written by Python: torch's own writer would bury a full disk's
    # "No space left on device" in an inline_container error. (Through a buffer also keeps the bytes
    # independent of the temporary file's random name, which torch would record in the archive.)
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        f.write(buffer.getbuffer())


def load(path: str | Path, expected_format: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    kind = expected_format.split("/")[0]
    if not path.is_file():
        raise RganError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise RganError(f"{path} is empty (0 bytes): not an {kind} file")
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickles would precede our one line
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # Never relay torch's advice to retry with weights_only=False: for a file of unknown origin that
        # would run its code. A pickle of arbitrary objects is simply not one of ours.
        with path.open("rb") as f:
            head = f.read(2)
        if "Unsupported global" in str(exc) or head[:1] == b"\x80":  # objects in a torch archive, or a bare pickle
            reason = "it holds Python objects that rgan never loads, so it was not written by rgan (nothing in it was run)"
        else:
            reason = "it is damaged or not a torch file"
        raise RganError(f"{path} is not an {kind} file: {reason}") from None
    if not isinstance(obj, dict) or obj.get("format") != expected_format:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise RganError(f"{path} is not an {kind} file (format {plain(found)}, expected '{expected_format}')")
    return obj


def check_generator(payload: dict[str, Any], path: str | Path) -> None:
    """A generator file's parts must agree with each other before anything is sampled from it: a scaler
    for other columns than the model's would turn every sample into wrong units (or a numpy traceback)."""
    import math

    def damaged(why: str) -> RganError:
        return RganError(f"{path} is a damaged generator file: {why}")

    dim, seq_len, columns, scaler = payload.get("dim"), payload.get("seq_len"), payload.get("columns"), payload.get("scaler")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise damaged(f"dim is {plain(dim)}, not a positive whole number")
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 1:
        raise damaged(f"seq_len is {plain(seq_len)}, not a positive whole number")
    if not isinstance(columns, list) or len(columns) != dim or not all(isinstance(c, str) for c in columns):
        raise damaged(f"it names {len(columns) if isinstance(columns, list) else 'no'} columns for a model of {dim} features")
    if not isinstance(scaler, dict):
        raise damaged("it has no scaler")
    widths = {key: len(scaler.get(key) or []) for key in ("columns", "data_min", "data_max")}
    if set(widths.values()) != {dim}:
        raise damaged(f"its scaler has {', '.join(f'{n} {k}' for k, n in widths.items())} for a model of {dim} features")
    if list(scaler["columns"]) != columns:
        raise damaged(f"its scaler's columns {scaler['columns']} differ from the model's {columns}")
    try:
        bounds = [float(v) for v in [*scaler["data_min"], *scaler["data_max"]]]
    except (TypeError, ValueError):
        raise damaged("its scaler holds values that are not numbers") from None
    if not all(math.isfinite(v) for v in bounds) or any(lo > hi for lo, hi in zip(bounds[:dim], bounds[dim:])):
        raise damaged("its scaler's minimum and maximum are not finite, ordered numbers")
