"""Load a generator file and draw sequences, scaled or in original units, in long format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rgan.atomic import atomic_path
from rgan.config import ModelConfig
from rgan.data.scaler import MinMaxScaler
from rgan.device import resolve_device
from rgan.errors import RganError
from rgan.models import build_sampler
from rgan.training import checkpoint

SEQUENCE_ID = "sequence_id"
STEP = "step"
WRITERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class LoadedGenerator:
    network: torch.nn.Module  # the kind's sampler: noise() and forward()
    seq_len: int
    columns: list[str]
    scaler: MinMaxScaler
    device: torch.device

    @torch.no_grad()
    def sample_scaled(self, n: int, seed: int, seq_len: int | None = None, chunk: int = 4096) -> np.ndarray:
        """(n, seq_len, dim) in [0, 1]. Noise is drawn on the CPU, so a seed gives the same noise on any device."""
        seq_len = seq_len or self.seq_len
        rng = torch.Generator().manual_seed(seed)
        out = []
        for begin in range(0, n, chunk):
            z = self.network.noise(min(chunk, n - begin), seq_len, generator=rng)
            out.append(self.network(z.to(self.device)).cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, seq_len, len(self.columns)), dtype=np.float32)

    def sample(self, n: int, seed: int, seq_len: int | None = None) -> np.ndarray:
        """(n, seq_len, dim) in the training data's original units."""
        return self.scaler.inverse_transform(self.sample_scaled(n, seed, seq_len).astype(np.float64))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    payload = checkpoint.load(path, checkpoint.GENERATOR_FORMAT, map_location="cpu")
    device = resolve_device(str(device))
    try:
        network = build_sampler(ModelConfig.model_validate(payload["model"]), int(payload["dim"]))
        network.load_state_dict(payload["state_dict"])
        seq_len, columns = int(payload["seq_len"]), list(payload["columns"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # pydantic's ValidationError is a ValueError
        raise RganError(f"{path} is a damaged generator file: {exc}") from None
    network.eval()
    return LoadedGenerator(
        network=network.to(device),
        seq_len=seq_len,
        columns=columns,
        scaler=MinMaxScaler.from_dict(payload["scaler"]),
        device=device,
    )


def to_long_frame(windows: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """One row per (sequence, step), features named as in the training data."""
    n, seq_len, dim = windows.shape
    frame = pd.DataFrame(windows.reshape(n * seq_len, dim), columns=columns)
    frame.insert(0, STEP, np.tile(np.arange(seq_len), n))
    frame.insert(0, SEQUENCE_ID, np.repeat(np.arange(n), seq_len))
    return frame


def write_frame(frame: pd.DataFrame, out: str | Path) -> Path:
    out = Path(out)
    kind = WRITERS.get(out.suffix.lower())
    if kind is None:
        raise RganError(f"--out {out}: unsupported format '{out.suffix}' (allowed: {', '.join(WRITERS)})")
    with atomic_path(out) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return out


def sample_to_file(generator_path: str | Path, n: int, seed: int, out: str | Path, seq_len: int | None = None, device: str = "cpu") -> Path:
    if n < 1:
        raise RganError(f"-n must be at least 1 (got {n})")
    if seq_len is not None and seq_len < 1:
        raise RganError(f"--seq-len must be at least 1 (got {seq_len})")
    loaded = load_generator(generator_path, device)
    return write_frame(to_long_frame(loaded.sample(n, seed, seq_len), loaded.columns), out)
