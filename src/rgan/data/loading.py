"""Read a user's CSV or Parquet table into a numeric feature matrix, with clear errors for bad data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rgan.config import DataConfig
from rgan.errors import RganError

READERS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Table:
    """Rows sorted by (sequence, time); `lengths` gives the consecutive row count of each sequence."""

    values: np.ndarray  # (rows, features) float64
    columns: list[str]
    lengths: np.ndarray  # (sequences,) int64, sums to rows
    report: dict = field(default_factory=dict)


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RganError(f"data file not found: {path} (set data.path in params.yaml)")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise RganError(f"data file {path}: unsupported format '{path.suffix}' (allowed: {', '.join(READERS)})")
    if path.stat().st_size == 0:
        raise RganError(f"data file {path} is empty")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pd.read_csv(path, sep=sep, engine="pyarrow")
    except pd.errors.EmptyDataError:
        raise RganError(f"data file {path} is empty") from None
    except Exception as exc:  # pyarrow/pandas parse errors carry their own detail
        raise RganError(f"data file {path} could not be read as {kind}: {exc}") from None


def _first_bad_row(series: pd.Series) -> tuple[int, object]:
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() & series.notna()
    position = int(np.argmax(bad.to_numpy()))
    return position, series.iloc[position]


def _feature_columns(frame: pd.DataFrame, cfg: DataConfig, source: Path, report: dict) -> list[str]:
    special = [c for c in (cfg.sequence_column, cfg.time_column) if c is not None]
    for name, col in (("data.sequence_column", cfg.sequence_column), ("data.time_column", cfg.time_column)):
        if col is not None and col not in frame.columns:
            raise RganError(f"{name} '{col}' is not a column of {source} (columns: {', '.join(map(str, frame.columns))})")
    if cfg.columns is None:
        chosen = [c for c in frame.columns if c not in special and pd.api.types.is_numeric_dtype(frame[c])]
        # A numeric column with one stray text cell reads as text: say which columns were left out.
        report["ignored_columns"] = [str(c) for c in frame.columns if c not in special and c not in chosen]
        if not chosen:
            raise RganError(f"{source} has no numeric columns to model (columns: {', '.join(map(str, frame.columns))})")
        return [str(c) for c in chosen]
    missing = [c for c in cfg.columns if c not in frame.columns]
    if missing:
        raise RganError(
            f"data.columns names columns that {source} lacks: {', '.join(missing)} "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    for col in cfg.columns:
        if pd.api.types.is_bool_dtype(frame[col]) or not pd.api.types.is_numeric_dtype(frame[col]):
            row, value = _first_bad_row(frame[col])
            raise RganError(
                f"column '{col}' is not numeric: row {row + 1} holds {value!r} (data.columns must be numeric)"
            )
    return list(cfg.columns)


def _sort(frame: pd.DataFrame, cfg: DataConfig) -> pd.DataFrame:
    keys = [c for c in (cfg.sequence_column, cfg.time_column) if c is not None]
    if not keys:
        return frame
    if cfg.time_column is not None and frame[cfg.time_column].dtype == object:
        try:
            frame = frame.assign(**{cfg.time_column: pd.to_datetime(frame[cfg.time_column])})
        except (ValueError, TypeError) as exc:
            raise RganError(f"data.time_column '{cfg.time_column}' is neither numeric nor dates: {exc}") from None
    return frame.sort_values(keys, kind="stable")


def _handle_missing(frame: pd.DataFrame, columns: list[str], cfg: DataConfig, report: dict) -> pd.DataFrame:
    features = frame[columns]
    if np.isinf(features.to_numpy(dtype=np.float64)).any():
        col = next(c for c in columns if np.isinf(frame[c].to_numpy(dtype=np.float64)).any())
        raise RganError(f"column '{col}' holds infinite values; clean them before training")
    missing = features.isna()
    counts = missing.sum()
    report["missing_values"] = {c: int(n) for c, n in counts.items() if n}
    if not counts.any():
        return frame
    if cfg.missing == "error":
        col = counts.idxmax()
        rows = missing.index[missing[col].to_numpy()]  # labels of the file's rows, whatever the sorting
        raise RganError(
            f"column '{col}' has {int(counts[col])} missing values (first at row {int(rows.min()) + 1}); "
            "set data.missing to drop or ffill, or clean the data"
        )
    if cfg.missing == "ffill":
        filled = frame[columns].groupby(frame[cfg.sequence_column]).ffill() if cfg.sequence_column else frame[columns].ffill()
        frame = frame.assign(**{c: filled[c] for c in columns})
    # drop, and leading gaps that ffill cannot fill
    keep = frame[columns].notna().all(axis=1)
    report["rows_dropped_missing"] = int((~keep).sum())
    return frame[keep]


def load_table(cfg: DataConfig) -> Table:
    source = Path(cfg.path)
    frame = read_table(source)
    if len(frame) == 0:
        raise RganError(f"data file {source} has a header but no rows")
    report: dict = {"source": str(source), "rows_read": int(len(frame))}
    columns = _feature_columns(frame, cfg, source, report)
    frame = _handle_missing(_sort(frame, cfg), columns, cfg, report)

    values = frame[columns].to_numpy(dtype=np.float64)
    if len(values) == 0:
        raise RganError(f"data file {source}: no rows left after dropping missing values")
    span = values.max(axis=0) - values.min(axis=0)
    constant = [c for c, s in zip(columns, span) if s == 0]
    if constant:
        raise RganError(
            f"column '{constant[0]}' is constant ({values[0, columns.index(constant[0])]!r} in every row): "
            "it carries no signal; leave it out of data.columns"
        )

    if cfg.sequence_column is not None:
        ids = frame[cfg.sequence_column].to_numpy()
        boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        lengths = np.diff(np.concatenate([[0], boundaries, [len(ids)]]))
    else:
        lengths = np.array([len(values)])
    report["rows"] = int(len(values))
    report["sequences"] = int(len(lengths))
    return Table(values=values, columns=columns, lengths=lengths.astype(np.int64), report=report)
