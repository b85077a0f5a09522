"""Sequences mode (`data.mode: sequences`): each entity is one sequence of its own length, padded to `data.max_len`.

A sequence is (start row, length) into the scaled series; longer entities are split into consecutive pieces of at
most max_len rows (or truncated), shorter than min_len left out. Batches are gathered padded: rows past a sequence's
end are zeros whatever the series holds there, and two columns are added after the series' own: `_length` (the
sequence's length, scaled like a numeric attribute, on its valid steps) and `_valid` (1 on its steps, 0 on padding).
The generator is conditioned on both, like on an attribute, and every loss reads `_valid` as its mask."""

from __future__ import annotations

import numpy as np

from rgan.config import DataConfig
from rgan.data.windows import SPLITS, Splits
from rgan.errors import RganError
from rgan.notes import note

LENGTH_COLUMN = "_length"
VALID_COLUMN = "_valid"
RESERVED = (LENGTH_COLUMN, VALID_COLUMN)


def sequence_pieces(lengths: np.ndarray, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """(start row, length) of every sequence: entities as they are, longer ones split or truncated, short ones out."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    long = lengths > cfg.max_len
    if cfg.long_sequences == "split":
        counts = np.where(long, -(-lengths // cfg.max_len), 1)
        entity = np.repeat(np.arange(len(lengths)), counts)
        rank = np.arange(counts.sum()) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        starts = offsets[entity] + rank * cfg.max_len
        sizes = np.minimum(cfg.max_len, lengths[entity] - rank * cfg.max_len)
        if long.any():
            note(f"{int(long.sum())} of {len(lengths)} entities are longer than data.max_len = {cfg.max_len}: split into "
                 f"{int(counts[long].sum())} consecutive sequences (data.long_sequences: split)")
    else:
        starts, sizes = offsets, np.minimum(lengths, cfg.max_len)
        if long.any():
            note(f"{int(long.sum())} of {len(lengths)} entities are longer than data.max_len = {cfg.max_len}: "
                 f"{int((lengths[long] - cfg.max_len).sum())} rows past it left out (data.long_sequences: truncate)")
    short = sizes < cfg.min_len
    if short.any():
        note(f"{int(short.sum())} of {len(sizes)} sequences are shorter than data.min_len = {cfg.min_len}: left out")
    if short.all():
        raise RganError(f"no sequence has data.min_len = {cfg.min_len} rows or more (the longest has {int(sizes.max())})")
    return starts[~short], sizes[~short]


def split_sequences(starts: np.ndarray, lengths: np.ndarray, cfg: DataConfig) -> tuple[Splits, Splits]:
    """Whole sequences at random into train / val / test: (starts, lengths) per split, each sorted by start."""
    order = np.random.default_rng(cfg.seed).permutation(len(starts))
    n_test = int(round(cfg.test_fraction * len(starts)))
    n_val = int(round(cfg.val_fraction * len(starts)))
    parts = dict(zip(("test", "val", "train"), np.split(order, [n_test, n_test + n_val])))
    parts = {name: np.sort(parts[name]) for name in SPLITS}
    empty = [name for name in SPLITS if len(parts[name]) == 0 and (name != "val" or cfg.val_fraction > 0)]
    if empty:
        raise RganError(f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty: {len(starts)} sequences, "
                        f"val_fraction {cfg.val_fraction}, test_fraction {cfg.test_fraction}")
    return Splits(*(starts[parts[n]] for n in SPLITS)), Splits(*(lengths[parts[n]] for n in SPLITS))


def covered(starts: np.ndarray, lengths: np.ndarray, n_rows: int) -> np.ndarray:
    """Boolean mask of the rows inside one of the sequences."""
    marks = np.bincount(starts, minlength=n_rows + 1) - np.bincount(starts + lengths, minlength=n_rows + 1)
    return np.cumsum(marks[:n_rows]) > 0


def valid_mask(lengths, max_len: int) -> np.ndarray:
    return np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]


def gather_sequences(series: np.ndarray, starts: np.ndarray, lengths: np.ndarray, max_len: int,
                     length_min: float, length_max: float) -> np.ndarray:
    """(n, max_len, columns + 2) float32: each sequence's rows, zeros past its end, then `_length` and `_valid`."""
    rows = np.minimum(np.asarray(starts)[:, None] + np.arange(max_len)[None, :], len(series) - 1)
    valid = valid_mask(lengths, max_len)
    values = np.where(valid[..., None], np.asarray(series)[rows], 0.0)  # padding is zero, whatever the rows hold
    span = length_max - length_min
    scaled = (np.asarray(lengths, dtype=np.float64) - length_min) / (span if span > 0 else 1.0)
    length = np.where(valid, scaled[:, None], 0.0)
    return np.concatenate([values, length[..., None], valid[..., None]], axis=2).astype(np.float32)
