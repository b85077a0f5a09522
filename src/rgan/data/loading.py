"""Read a user's CSV or Parquet table into a numeric feature matrix, with clear errors for bad data."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rgan.config import DataConfig
from rgan.data.scaler import one_hot_name
from rgan.data.sequences import RESERVED
from rgan.errors import RganError
from rgan.notes import note, plain

READERS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Table:
    """Rows sorted by (sequence, time); `lengths` gives the consecutive row count of each sequence."""

    values: np.ndarray  # (rows, features) float64: the numeric columns, then each categorical column one-hot
    columns: list[str]  # names of `values`' columns: numeric names, then `column=label` for each category
    lengths: np.ndarray  # (sequences,) int64, sums to rows
    report: dict = field(default_factory=dict)
    categories: dict[str, list] = field(default_factory=dict)  # categorical column -> its labels, in one-hot order
    attributes: list[str] = field(default_factory=list)  # static per-entity columns, last in `values`


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RganError(f"data file not found: {path} (set data.path in params.yaml)")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise RganError(f"data file {path}: unsupported format '{path.suffix}' (allowed: {', '.join(READERS)})")
    if path.stat().st_size == 0:
        raise RganError(f"data file {path} is empty")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        header = _header(path, kind, sep)
    except Exception as exc:  # a damaged Parquet footer, a binary file named .csv
        raise RganError(f"data file {path} could not be read as {kind}: {_first_line(exc)}") from None
    _check_unique(header, path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=sep, engine="pyarrow")
    except pd.errors.EmptyDataError:
        raise RganError(f"data file {path} is empty") from None
    except Exception as exc:  # pyarrow/pandas parse errors carry their own detail
        raise RganError(f"data file {path} could not be read as {kind}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _header(path: Path, kind: str, sep: str) -> list[str]:
    """Column names as the file has them: pandas would rename a repeated `a` to `a.1` and carry on."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import csv

    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f, delimiter=sep), [])


def _check_unique(header: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise RganError(
                f"data file {path}: column name '{name}' appears twice (columns {seen[name]} and {position}); "
                "rename one of them"
            )
        seen[name] = position


def _first_bad_row(series: pd.Series) -> tuple[int, object]:
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() & series.notna()
    position = int(np.argmax(bad.to_numpy()))
    return position, series.iloc[position]


# One-hot columns per categorical column at most: each category is a network input and output, and a column with
# hundreds of distinct values (an id, a free-text field) is rarely a category.
MAX_CATEGORIES = 64


def _categorical_columns(frame: pd.DataFrame, cfg: DataConfig, source: Path) -> list[str]:
    """The categorical feature columns (categorical_columns that are not attributes), checked."""
    for setting in ("categorical_columns", "attribute_columns"):
        missing = [c for c in getattr(cfg, setting) if c not in frame.columns]
        if missing:
            raise RganError(
                f"data.{setting} names columns that {source} lacks: {', '.join(missing)} "
                f"(columns: {', '.join(map(str, frame.columns))})"
            )
    for col in cfg.categorical_columns:
        series = frame[col]
        if pd.api.types.is_float_dtype(series):
            present = series.dropna()
            fractional = (present != np.trunc(present)).to_numpy()
            if fractional.any():
                row = int(present.index[np.argmax(fractional)])
                raise RganError(
                    f"categorical column '{col}': row {row + 1} holds {plain(series.loc[row])}; categories are text or "
                    "whole-number codes (a measured quantity belongs in data.columns)"
                )
    return [c for c in cfg.categorical_columns if c not in cfg.attribute_columns]


def _is_categorical_attribute(series: pd.Series, cfg: DataConfig) -> bool:
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return series.name in cfg.categorical_columns or not numeric


def _attributes(frame: pd.DataFrame, cfg: DataConfig) -> tuple[np.ndarray, list[str], dict[str, list]]:
    """The attribute columns of sorted rows with no missing features: each must hold one value per entity. Numeric
    ones as they are, categorical ones one-hot; with their column names and labels."""
    entities = frame[cfg.sequence_column]
    blocks, names, categories = [], [], {}
    for col in cfg.attribute_columns:
        series = frame[col]
        absent = series.isna().to_numpy()
        if absent.any():
            row = int(np.argmax(absent))
            raise RganError(
                f"attribute '{col}' is empty for entity {plain(entities.iloc[row])} (row {int(frame.index[row]) + 1}): "
                "every row of an entity needs its value"
            )
        changes = (series.to_numpy()[1:] != series.to_numpy()[:-1]) & (entities.to_numpy()[1:] == entities.to_numpy()[:-1])
        if changes.any():
            row = int(np.argmax(changes)) + 1
            raise RganError(
                f"attribute '{col}' changes within entity {plain(entities.iloc[row])}: {plain(series.iloc[row - 1])} then "
                f"{plain(series.iloc[row])} (row {int(frame.index[row]) + 1}); an attribute holds one value per entity "
                "(a value that changes over time is a feature: leave it out of data.attribute_columns)"
            )
        if _is_categorical_attribute(series, cfg):
            one_hot, block_names, labels = encode_categories(frame, [col])
            blocks.append(one_hot)
            names += block_names
            categories.update(labels)
        else:
            if series.nunique() == 1:
                raise RganError(f"attribute '{col}' is {plain(series.iloc[0])} for every entity: it carries no signal; "
                                "leave it out of data.attribute_columns")
            blocks.append(series.to_numpy(dtype=np.float64)[:, None])
            names.append(col)
    if not blocks:
        return np.empty((len(frame), 0)), [], {}
    return np.concatenate(blocks, axis=1), names, categories


def _labels(series: pd.Series) -> list:
    """The categories of a column, sorted; whole-number codes stay numbers, anything else is text."""
    if pd.api.types.is_float_dtype(series):  # codes read as float because of a missing value
        series = series.astype(np.int64)
    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        return sorted(series.unique().tolist())
    return sorted(series.astype(str).unique().tolist())


def encode_categories(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str], dict[str, list]]:
    """One-hot blocks of the categorical columns (rows without missing values), their names and labels."""
    blocks, names, categories = [], [], {}
    for col in columns:
        labels = _labels(frame[col])
        if len(labels) > MAX_CATEGORIES:
            raise RganError(
                f"categorical column '{col}' has {len(labels)} distinct values, more than {MAX_CATEGORIES} allowed "
                "(an id or free text is not a category: leave it out, or group rare values first)"
            )
        if len(labels) == 1:
            raise RganError(
                f"categorical column '{col}' holds one category ({plain(labels[0])}) in every row: it carries no "
                "signal; leave it out of data.categorical_columns"
            )
        values = frame[col].astype(np.int64) if pd.api.types.is_float_dtype(frame[col]) else frame[col]
        keys = values.tolist() if isinstance(labels[0], (int, bool)) else values.astype(str).tolist()
        index = {label: i for i, label in enumerate(labels)}
        codes = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
        blocks.append(np.eye(len(labels), dtype=np.float64)[codes])
        names += [one_hot_name(col, label) for label in labels]
        categories[col] = labels
    if not blocks:
        return np.empty((len(frame), 0)), [], {}
    return np.concatenate(blocks, axis=1), names, categories


def _feature_columns(frame: pd.DataFrame, cfg: DataConfig, source: Path, report: dict) -> list[str]:
    special = [c for c in (cfg.sequence_column, cfg.time_column, *cfg.categorical_columns, *cfg.attribute_columns) if c is not None]
    for name, col in (("data.sequence_column", cfg.sequence_column), ("data.time_column", cfg.time_column)):
        if col is not None and col not in frame.columns:
            raise RganError(f"{name} '{col}' is not a column of {source} (columns: {', '.join(map(str, frame.columns))})")
    if cfg.columns is None:
        chosen = [c for c in frame.columns if c not in special and pd.api.types.is_numeric_dtype(frame[c])]
        # A numeric column with one stray text cell reads as text: say which columns were left out.
        report["ignored_columns"] = [str(c) for c in frame.columns if c not in special and c not in chosen]
        if report["ignored_columns"]:
            note(
                f"non-numeric columns left out: {', '.join(report['ignored_columns'])} "
                "(name them in data.columns to get an error showing the offending row)"
            )
        if not chosen and not set(cfg.categorical_columns) - set(cfg.attribute_columns):
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
                f"column '{col}' is not numeric: row {row + 1} holds {plain(value)} (data.columns must be numeric)"
            )
    return list(cfg.columns)


def _no_missing(series: pd.Series, setting: str) -> None:
    absent = series.isna().to_numpy()
    if absent.any():
        raise RganError(f"{setting} '{series.name}' is empty in row {int(np.argmax(absent)) + 1}: every row needs a value there")


def _parse_dates(text: pd.Series, fmt: str) -> pd.Series:
    if fmt == "ISO8601":
        return pd.to_datetime(text, format="ISO8601", errors="coerce")
    return pd.to_datetime(text, format=fmt, errors="coerce")


def _first_unparsed(text: pd.Series, parsed: pd.Series) -> tuple[int, str]:
    row = int(np.argmax(parsed.isna().to_numpy()))
    return row + 1, str(text.iloc[row])


def parse_time(series: pd.Series, time_format: str | None) -> pd.Series:
    """The time column as numbers or datetimes, never as text (text sorts 31/01 after 01/02).

    Numbers and real datetime columns are taken as they are. Text is parsed with `time_format` when set;
    else as ISO 8601, else with the format guessed from the first value, day first and month first: when both
    read every row but disagree, the column is ambiguous and the user must set data.time_format.
    """
    column = series.name
    _no_missing(series, "data.time_column")
    if pd.api.types.is_bool_dtype(series):
        raise RganError(f"data.time_column '{column}' holds true/false values, not times")
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series
    text = series.astype(str).str.strip()
    if time_format is not None:
        parsed = _parse_dates(text, time_format)
        if parsed.isna().any():
            row, value = _first_unparsed(text, parsed)
            raise RganError(
                f"data.time_column '{column}': row {row} holds '{value}', which does not match data.time_format '{time_format}'"
            )
        return parsed
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers
    iso = _parse_dates(text, "ISO8601")
    if iso.notna().all():
        return iso
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guesses = dict.fromkeys(f for f in (guess_datetime_format(text.iloc[0], dayfirst=d) for d in (False, True)) if f)
    attempts = {fmt: _parse_dates(text, fmt) for fmt in guesses}
    readable = {fmt: parsed for fmt, parsed in attempts.items() if parsed.notna().all()}
    if not readable:
        best = max(attempts.values(), key=lambda p: int(p.notna().sum()), default=iso)
        row, value = _first_unparsed(text, best if best.notna().any() else iso)
        raise RganError(
            f"data.time_column '{column}': row {row} holds '{value}', which is neither a number nor a date "
            "(ISO 8601 such as 2024-01-31 is read as it is; set data.time_format for other date formats)"
        )
    if len(readable) > 1:
        (fmt_a, a), (fmt_b, b) = list(readable.items())[:2]
        differs = (a != b).to_numpy()
        if differs.any():
            row = int(np.argmax(differs))
            raise RganError(
                f"data.time_column '{column}' is ambiguous: row {row + 1} '{text.iloc[row]}' reads as "
                f"{a.iloc[row]:%Y-%m-%d} with {fmt_a} and as {b.iloc[row]:%Y-%m-%d} with {fmt_b}: "
                f"set data.time_format to the right one"
            )
    fmt, parsed = next(iter(readable.items()))
    note(f"data.time_column '{column}' read as dates in the format {fmt} (inferred; set data.time_format to state it)")
    return parsed


def _sort(frame: pd.DataFrame, cfg: DataConfig) -> pd.DataFrame:
    keys = [c for c in (cfg.sequence_column, cfg.time_column) if c is not None]
    if not keys:
        return frame
    if cfg.sequence_column is not None:
        _no_missing(frame[cfg.sequence_column], "data.sequence_column")
    if cfg.time_column is not None:
        frame = frame.assign(**{cfg.time_column: parse_time(frame[cfg.time_column], cfg.time_format)})
        repeated = int(frame.duplicated(subset=keys).sum())
        if repeated:
            within = " within a sequence" if cfg.sequence_column is not None else ""
            note(f"{repeated} rows repeat an earlier row's time{within} in data.time_column '{cfg.time_column}'; kept in file order")
    return frame.sort_values(keys, kind="stable")


def _handle_missing(frame: pd.DataFrame, columns: list[str], cfg: DataConfig, report: dict, numeric: list[str]) -> pd.DataFrame:
    features = frame[columns]
    if np.isinf(frame[numeric].to_numpy(dtype=np.float64)).any():
        col = next(c for c in numeric if np.isinf(frame[c].to_numpy(dtype=np.float64)).any())
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
    if report["rows_dropped_missing"]:
        how = "data.missing: drop" if cfg.missing == "drop" else "data.missing: ffill, gaps at the start of a sequence"
        note(f"{report['rows_dropped_missing']} of {len(frame)} rows dropped for missing values ({how})")
    return frame[keep]


def load_table(cfg: DataConfig) -> Table:
    source = Path(cfg.path)
    frame = read_table(source)
    if len(frame) == 0:
        raise RganError(f"data file {source} has a header but no rows")
    report: dict = {"source": str(source), "rows_read": int(len(frame))}
    if cfg.mode == "sequences":
        reserved = [c for c in RESERVED if c in frame.columns]
        if reserved:
            raise RganError(f"data file {source}: column name '{reserved[0]}' is reserved in data.mode sequences; rename it")
    columns = _feature_columns(frame, cfg, source, report)
    categorical = _categorical_columns(frame, cfg, source)
    frame = _handle_missing(_sort(frame, cfg), columns + categorical, cfg, report, numeric=columns)

    values = frame[columns].to_numpy(dtype=np.float64)
    if len(values) == 0:
        raise RganError(f"data file {source}: no rows left after dropping missing values")
    one_hot, one_hot_columns, categories = encode_categories(frame, categorical)
    attributes, attribute_columns, attribute_categories = _attributes(frame, cfg) if cfg.attribute_columns else (None, [], {})
    if cfg.mode == "windows" and len(values) < cfg.seq_len:
        rows = f"{len(values)} row{'s' if len(values) != 1 else ''}"
        raise RganError(f"data file {source} has {rows}, fewer than data.seq_len = {cfg.seq_len}: no window fits")
    span = values.max(axis=0) - values.min(axis=0)
    constant = [c for c, s in zip(columns, span) if s == 0]
    if constant:
        raise RganError(
            f"column '{constant[0]}' is constant ({plain(values[0, columns.index(constant[0])])} in every row): "
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
    if categories:
        values, columns = np.concatenate([values, one_hot], axis=1), columns + one_hot_columns
    if attribute_columns:
        values, columns = np.concatenate([values, attributes], axis=1), columns + attribute_columns
        report["attributes"] = list(cfg.attribute_columns)
    return Table(values=values, columns=columns, lengths=lengths.astype(np.int64), report=report,
                 categories={**categories, **attribute_categories}, attributes=list(cfg.attribute_columns))
