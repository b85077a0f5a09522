"""The prepare stage: raw table -> scaled series, window starts per split, scaler and stats."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rgan.atomic import atomic_dir
from rgan.config import DataConfig
from rgan.data.loading import load_table
from rgan.data.scaler import MinMaxScaler
from rgan.data.sequences import LENGTH_COLUMN, VALID_COLUMN, covered, gather_sequences, sequence_pieces, split_sequences
from rgan.data.windows import SPLITS, covered_rows, gather_windows, split_windows
from rgan.errors import RganError

SERIES_FILE = "series.npy"
SCALER_FILE = "scaler.json"
STATS_FILE = "stats.json"


def prepare(cfg: DataConfig, out_dir: str | Path, source: str | None = None) -> dict:
    """Scale and window the table at cfg.path into out_dir. `source`: the data's name to record when cfg.path is a
    fetched copy in a temporary folder (the prepared data, and so its hash, must not depend on that folder)."""
    table = load_table(cfg)
    if cfg.mode == "sequences":
        return _prepare_sequences(cfg, table, out_dir, source)
    splits = split_windows(table.lengths, cfg)
    train_rows = covered_rows(splits.train, cfg.seq_len, len(table.values))
    scaler = MinMaxScaler.fit(table.values[train_rows], table.columns, table.categories, table.attributes)  # on training rows only
    series = scaler.transform(table.values).astype(np.float32)

    stats = {
        **table.report,
        **({"source": source} if source else {}),
        "columns": table.columns,
        **({"categories": table.categories} if table.categories else {}),
        **({"attributes": table.attributes} if table.attributes else {}),
        "seq_len": cfg.seq_len,
        "stride": cfg.stride,
        "split": cfg.split,
        "windows": {name: int(len(idx)) for name, idx in splits.as_dict().items()},
        # what a checkpoint was trained on, compared on resume: the exact values and windows, not just counts
        "sha256": {
            "series": hashlib.sha256(series.tobytes()).hexdigest(),
            **{name: hashlib.sha256(idx.astype(np.int64).tobytes()).hexdigest() for name, idx in splits.as_dict().items()},
        },
        "raw": {
            "min": table.values.min(axis=0).tolist(),
            "max": table.values.max(axis=0).tolist(),
            "mean": table.values.mean(axis=0).tolist(),
            "std": table.values.std(axis=0).tolist(),
        },
    }
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / SERIES_FILE, series)
        for name, idx in splits.as_dict().items():
            np.save(tmp / f"{name}_starts.npy", idx.astype(np.int64))
        scaler.save(tmp / SCALER_FILE)
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def _prepare_sequences(cfg: DataConfig, table, out_dir: str | Path, source: str | None) -> dict:
    """Sequences mode: each entity (or piece of one) a sequence of its own length, split whole at random."""
    starts, lengths = sequence_pieces(table.lengths, cfg)
    splits, split_lengths = split_sequences(starts, lengths, cfg)
    train_rows = covered(splits.train, split_lengths.train, len(table.values))
    columns = table.columns + [LENGTH_COLUMN, VALID_COLUMN]
    scaler = MinMaxScaler.fit(table.values[train_rows], columns, table.categories, table.attributes + [LENGTH_COLUMN], cfg.max_len)
    low, high = list(scaler.data_min), list(scaler.data_max)
    low[-2], high[-2] = float(split_lengths.train.min()), float(split_lengths.train.max())  # `_length`, as an attribute
    scaler = replace(scaler, data_min=low, data_max=high)
    series = scaler.transform_leading(table.values).astype(np.float32)
    stats = {
        **table.report,
        **({"source": source} if source else {}),
        "mode": "sequences",
        "columns": columns,
        **({"categories": table.categories} if table.categories else {}),
        "attributes": table.attributes,
        "seq_len": cfg.max_len,
        "max_len": cfg.max_len,
        "min_len": cfg.min_len,
        "split": cfg.split,
        "sequences_per_split": {name: int(len(idx)) for name, idx in splits.as_dict().items()},
        "windows": {name: int(len(idx)) for name, idx in splits.as_dict().items()},
        "lengths": {name: {"min": int(v.min()), "mean": round(float(v.mean()), 3), "max": int(v.max())} if len(v) else None
                    for name, v in split_lengths.as_dict().items()},
        "sha256": {
            "series": hashlib.sha256(series.tobytes()).hexdigest(),
            **{name: hashlib.sha256(idx.astype(np.int64).tobytes() + n.astype(np.int64).tobytes()).hexdigest()
               for (name, idx), n in zip(splits.as_dict().items(), split_lengths.as_dict().values())},
        },
    }
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / SERIES_FILE, series)
        for (name, idx), n in zip(splits.as_dict().items(), split_lengths.as_dict().values()):
            np.save(tmp / f"{name}_starts.npy", idx.astype(np.int64))
            np.save(tmp / f"{name}_lengths.npy", n.astype(np.int64))
        scaler.save(tmp / SCALER_FILE)
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n")
    return stats


ALL_WINDOWS = "all"  # `Prepared.windows`: every split's windows together (the TimeGAN reference code's real side)


def _splits(split: str) -> tuple[str, ...]:
    return SPLITS if split == ALL_WINDOWS else (split,)


@dataclass
class Prepared:
    """Prepared data as later stages see it: windows are gathered on demand from the scaled series."""

    series: np.ndarray
    starts: dict[str, np.ndarray]
    scaler: MinMaxScaler
    stats: dict
    lengths: dict[str, np.ndarray] | None = None  # sequences mode: each sequence's length, per split

    @property
    def sequences(self) -> bool:
        return self.lengths is not None

    @property
    def seq_len(self) -> int:
        return int(self.stats["seq_len"])

    @property
    def dim(self) -> int:
        """Columns the networks see (sequences mode adds `_length` and `_valid` to the series')."""
        return len(self.scaler.columns)

    @property
    def columns(self) -> list[str]:
        return list(self.scaler.columns)

    def attribute_vectors(self, split: str) -> np.ndarray:
        """(windows, attribute columns) of a split: each window's entity attributes, scaled (static: its first row's);
        in sequences mode with the scaled length last."""
        vectors = np.asarray(self.series[self.starts[split], self.scaler.feature_width:], dtype=np.float64)
        if not self.sequences:
            return vectors
        low, high = self.scaler.data_min[-2], self.scaler.data_max[-2]
        scaled = (self.lengths[split] - low) / (high - low if high > low else 1.0)
        return np.concatenate([vectors, scaled[:, None]], axis=1)

    def count(self, split: str) -> int:
        """How many windows `windows(split)` gives without a limit."""
        return sum(len(self.starts[name]) for name in _splits(split))

    def windows(self, split: str, limit: int | None = None, seed: int = 0) -> np.ndarray:
        """Windows of a split, or of every split together in the order of their starts (split ALL_WINDOWS), (n,
        seq_len, dim); a seeded random subset of `limit` when there are more. In sequences mode each sequence padded
        to max_len, with `_length` and `_valid`."""
        names = _splits(split)
        starts = np.concatenate([self.starts[name] for name in names])
        lengths = np.concatenate([self.lengths[name] for name in names]) if self.sequences else None
        if split == ALL_WINDOWS:  # in the order of the series, as the reference code cuts it
            order = np.argsort(starts, kind="stable")
            starts, lengths = starts[order], (lengths[order] if lengths is not None else None)
        idx = np.arange(len(starts))
        if limit is not None and len(idx) > limit:
            idx = np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))
        if self.sequences:
            return gather_sequences(self.series, starts[idx], lengths[idx], self.seq_len,
                                    self.scaler.data_min[-2], self.scaler.data_max[-2])
        return gather_windows(self.series, starts[idx], self.seq_len)


def load_prepared(directory: str | Path) -> Prepared:
    directory = Path(directory)
    needed = [SERIES_FILE, SCALER_FILE, STATS_FILE, *(f"{s}_starts.npy" for s in SPLITS)]
    absent = [name for name in needed if not (directory / name).is_file()]
    if absent:
        raise RganError(f"prepared data incomplete in {directory} (missing {', '.join(absent)}): run `rgan prepare` first")
    try:
        # mmap: a large series is paged in as batches touch it; allow_pickle=False: never unpickle data files
        series = np.load(directory / SERIES_FILE, mmap_mode="r", allow_pickle=False)
        starts = {s: np.load(directory / f"{s}_starts.npy", allow_pickle=False) for s in SPLITS}
        stats = json.loads((directory / STATS_FILE).read_text())
        scaler = MinMaxScaler.load(directory / SCALER_FILE)
        lengths = ({s: np.load(directory / f"{s}_lengths.npy", allow_pickle=False) for s in SPLITS}
                   if stats.get("mode") == "sequences" else None)
    except (ValueError, OSError) as exc:  # damaged .npy or JSON
        raise RganError(f"prepared data in {directory} is damaged ({exc}): run `rgan prepare` again") from None
    return Prepared(series=series, starts=starts, scaler=scaler, stats=stats, lengths=lengths)
