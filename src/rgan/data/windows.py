"""Sliding windows as start offsets into one row-major series, and train/val/test splits.

Windows are never materialised on disk: a window is `series[start:start + seq_len]`, and
`gather_windows` builds a batch of them through a strided view (no Python loop over windows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rgan.config import DataConfig
from rgan.errors import RganError
from rgan.notes import note

SPLITS = ("train", "val", "test")


def window_starts(lengths: np.ndarray, seq_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Start row of every window that fits inside one sequence, and the index of that sequence.

    Vectorised over sequences: each sequence contributes floor((L - seq_len) / stride) + 1 windows.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    counts = np.where(lengths >= seq_len, (lengths - seq_len) // stride + 1, 0)
    seq_of_window = np.repeat(np.arange(len(lengths)), counts)
    # position of each window inside its own sequence: 0, 1, 2, ... restarting per sequence
    first_of_seq = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(counts.sum()) - np.repeat(first_of_seq, counts)
    return offsets[seq_of_window] + rank * stride, seq_of_window


@dataclass(frozen=True)
class Splits:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}


def split_windows(lengths: np.ndarray, cfg: DataConfig) -> Splits:
    lengths = np.asarray(lengths, dtype=np.int64)
    starts, seq = window_starts(lengths, cfg.seq_len, cfg.stride)
    if len(starts) == 0:
        longest = int(lengths.max()) if len(lengths) else 0
        what = "the series has" if len(lengths) == 1 else f"the longest of {len(lengths)} sequences has"
        raise RganError(f"{what} {longest} rows, shorter than data.seq_len = {cfg.seq_len}: no window fits")
    short = lengths < cfg.seq_len
    if short.any():
        note(
            f"{int(short.sum())} of {len(lengths)} sequences ({int(lengths[short].sum())} rows) are shorter than "
            f"data.seq_len = {cfg.seq_len} and give no window: left out"
        )
    if cfg.split == "random":
        splits = _random_split(starts, cfg)
    else:
        splits = _time_split(starts, seq, lengths, cfg)
    empty = [name for name, idx in splits.as_dict().items() if len(idx) == 0 and (name != "val" or cfg.val_fraction > 0)]
    if empty:
        hint = (
            " (too few rows per sequence to cut by time into whole windows for every split: "
            "use longer sequences, a smaller seq_len, or data.split: random)"
            if cfg.split == "time"
            else ""
        )
        raise RganError(
            f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty: "
            f"{len(starts)} windows of seq_len {cfg.seq_len}, stride {cfg.stride}, "
            f"val_fraction {cfg.val_fraction}, test_fraction {cfg.test_fraction}{hint}"
        )
    return splits


def _random_split(starts: np.ndarray, cfg: DataConfig) -> Splits:
    order = np.random.default_rng(cfg.seed).permutation(len(starts))
    n_test = int(round(cfg.test_fraction * len(starts)))
    n_val = int(round(cfg.val_fraction * len(starts)))
    test, val, train = np.split(starts[order], [n_test, n_test + n_val])
    return Splits(np.sort(train), np.sort(val), np.sort(test))


def _time_split(starts: np.ndarray, seq: np.ndarray, lengths: np.ndarray, cfg: DataConfig) -> Splits:
    """Cut every sequence at the same fractions of its rows; a window belongs to a split only if it lies
    wholly inside that split's rows, so test windows come after training windows and never overlap them."""
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    length = lengths[seq]
    start_in_seq = starts - offsets[seq]
    end_in_seq = start_in_seq + cfg.seq_len
    train_end = np.floor(length * (1 - cfg.val_fraction - cfg.test_fraction)).astype(np.int64)
    val_end = np.floor(length * (1 - cfg.test_fraction)).astype(np.int64)
    train = end_in_seq <= train_end
    val = (start_in_seq >= train_end) & (end_in_seq <= val_end)
    test = start_in_seq >= val_end
    return Splits(starts[train], starts[val], starts[test])


def covered_rows(starts: np.ndarray, seq_len: int, n_rows: int) -> np.ndarray:
    """Boolean mask of the rows inside at least one of the windows (difference array, no loop)."""
    marks = np.bincount(starts, minlength=n_rows + 1) - np.bincount(starts + seq_len, minlength=n_rows + 1)
    return np.cumsum(marks[:n_rows]) > 0


def gather_windows(series: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """(len(starts), seq_len, features) copy of the windows starting at `starts`."""
    view = sliding_window_view(series, seq_len, axis=0)  # (rows - seq_len + 1, features, seq_len), no copy
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1))
