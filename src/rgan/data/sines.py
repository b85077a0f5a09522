"""TimeGAN's sines benchmark: each feature of each sequence is sin(f*t + p), f, p ~ U(0, 0.1), mapped to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rgan.atomic import atomic_path
from rgan.config import SinesConfig

SEQUENCE_COLUMN = "sequence_id"
TIME_COLUMN = "step"


def make_sines(cfg: SinesConfig) -> pd.DataFrame:
    """Long table: one row per (sequence, step), feature columns feature_0..feature_{dim-1}."""
    rng = np.random.default_rng(cfg.seed)
    freq = rng.uniform(0, 0.1, size=(cfg.n_sequences, 1, cfg.dim))
    phase = rng.uniform(0, 0.1, size=(cfg.n_sequences, 1, cfg.dim))
    t = np.arange(cfg.length)[None, :, None]
    values = (np.sin(freq * t + phase) + 1.0) / 2.0  # [-1, 1] -> [0, 1], as in the paper's code
    table = pd.DataFrame(
        values.reshape(-1, cfg.dim), columns=[f"feature_{i}" for i in range(cfg.dim)]
    )
    table.insert(0, TIME_COLUMN, np.tile(np.arange(cfg.length), cfg.n_sequences))
    table.insert(0, SEQUENCE_COLUMN, np.repeat(np.arange(cfg.n_sequences), cfg.length))
    return table


def write_table(table: pd.DataFrame, out: str | Path) -> Path:
    """A built-in dataset to CSV (by the suffix) or Parquet, atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        if out.suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    return out


def write_sines(cfg: SinesConfig, out: str | Path) -> Path:
    return write_table(make_sines(cfg), out)
