"""Load a generator file and draw sequences, scaled or in original units, in long format.

`rgan sample` streams: sequences are generated chunk by chunk and each chunk is written as soon as it exists,
so memory stays flat whatever -n is. The values do not depend on how they are written: chunk k of the noise is
drawn from the one seeded torch.Generator exactly as `sample_scaled` always drew it (4096 sequences a chunk).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from rgan.atomic import atomic_path
from rgan.config import SEED_MAX, own_settings, parse_model
from rgan.data.scaler import MinMaxScaler
from rgan.data.sequences import valid_mask
from rgan.device import resolve_device, torch_threads
from rgan.errors import RganError
from rgan.notes import plain
from rgan.models import build_sampler
from rgan.models.attributes import AttributeModel
from rgan.models.outputs import harden
from rgan.training import checkpoint

SEQUENCE_ID = "sequence_id"
STEP = "step"
WRITERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

MAX_N = 1_000_000_000
# One LSTM pass over 1e5 steps needs ~100 MB; over 1e6, ~1 GB: past the 1 GiB a sampler may use.
MAX_SEQ_LEN = 100_000
# Sequences per generation chunk. The noise of chunk k comes from the seeded generator after chunks 0..k-1, so
# this number is part of what a seed means: changing it changes the samples.
SAMPLE_CHUNK = 4096
# Only for very long sequences is a chunk smaller than SAMPLE_CHUNK: chunk * seq_len * the widest per-step
# tensor stays under this many floats (about 400 MB of activations for an LSTM; it holds up to seq_len 128 at
# the shipped hidden 32, so ordinary lengths keep the values of SAMPLE_CHUNK chunks).
ELEMENT_BUDGET = 1 << 24
# Parquet: chunks are gathered into row groups of about this many bytes of values.
ROW_GROUP_BYTES = 32 << 20


@dataclass(frozen=True)
class Conditions:
    """Attributes fixed for sampling, encoded for the attribute model: category indices by one-hot block, scaled
    values by numeric attribute. Empty: every attribute drawn."""

    codes: dict[int, int]
    values: dict[int, float]
    given: dict[str, object]  # as the user wrote them, parsed (for messages)


NO_CONDITIONS = Conditions({}, {}, {})
ATTRIBUTE_SEED = 0x5EED_A77  # the attributes' random stream beside the noise's: a seed's noise is what it always was


def _require_attributes(attributes: AttributeModel | None, flag: str) -> None:
    if attributes is None:
        raise RganError(f"{flag}: this generator was trained without attributes (data.attribute_columns), so it takes no conditions")


def parse_conditions(scaler: MinMaxScaler, attributes: AttributeModel | None, raw: dict[str, object], flag: str = "--condition") -> Conditions:
    """User conditions (attribute -> value, text or typed) checked against what the generator was trained on."""
    if not raw:
        return NO_CONDITIONS
    _require_attributes(attributes, flag)
    codes, values, given = {}, {}, {}
    categorical = [a for a in scaler.attributes if a in scaler.categories]
    numeric = [a for a in scaler.attributes if a not in scaler.categories]
    for name, value in raw.items():
        if name not in scaler.attributes:
            raise RganError(f"{flag} {name}: not an attribute of this generator (attributes: {', '.join(scaler.attributes)})")
        if name in scaler.categories:
            labels = scaler.categories[name]
            match = [i for i, label in enumerate(labels) if str(label) == str(value) or label == value]
            if not match:
                raise RganError(f"{flag} {name}={value}: unknown category (allowed: {', '.join(map(str, labels))})")
            codes[categorical.index(name)] = match[0]
            given[name] = labels[match[0]]
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RganError(f"{flag} {name}={value}: not a number (attribute '{name}' is numeric)") from None
        column = scaler.columns.index(name)
        low, high = scaler.data_min[column], scaler.data_max[column]
        if not (math.isfinite(number) and low <= number <= high):
            raise RganError(f"{flag} {name}={value}: outside the training range {plain(low)} to {plain(high)}")
        values[numeric.index(name)] = (number - low) / (high - low) if high > low else 0.0
        given[name] = number
    if not attributes.possible(codes):
        wanted = " with ".join(f"{k}={given[k]}" for k in given if k in scaler.categories)
        raise RganError(f"{flag}: no training entity has {wanted}, so the generator has not seen that combination")
    return Conditions(codes, values, given)


MAX_CONDITION_ROWS = 1_000_000  # --conditions: rows (sequences) per file; larger requests are split


@dataclass(frozen=True)
class RowConditions:
    """--conditions: each sequence's attribute vector (scaled, drawn given that row's values) and, per numeric
    attribute column, the values given (NaN where drawn), written back exactly."""

    vectors: np.ndarray
    exact: dict[int, np.ndarray]


def read_row_conditions(path: str | Path, loaded: "LoadedGenerator", seed: int) -> RowConditions:
    """One sequence per row of a CSV whose columns are attributes; an empty cell is drawn given the row's others."""
    path = Path(path)
    flag = f"--conditions {path}"
    if not path.is_file():
        raise RganError(f"{flag}: file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=MAX_CONDITION_ROWS + 1)
    except Exception as exc:  # an unreadable or empty file
        raise RganError(f"{flag}: could not be read as CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    _require_attributes(loaded.attributes, flag)
    frame = frame.rename(columns=str.strip).apply(lambda column: column.str.strip())  # as --condition reads them
    unknown = [c for c in frame.columns if c not in loaded.scaler.attributes]
    if unknown:
        raise RganError(f"{flag}: column '{unknown[0]}' is not an attribute of this generator (attributes: {', '.join(loaded.scaler.attributes)})")
    if len(frame) == 0:
        raise RganError(f"{flag}: no rows (one row per sequence)")
    if len(frame) > MAX_CONDITION_ROWS:
        raise RganError(f"{flag}: more than {MAX_CONDITION_ROWS:,} rows; split it into several requests")
    rng = np.random.default_rng([seed, ATTRIBUTE_SEED])
    vectors = np.empty((len(frame), loaded.scaler.attribute_width))
    numeric = [c for c in frame.columns if c not in loaded.scaler.categories]
    exact = {loaded.scaler.columns.index(c): np.full(len(frame), np.nan) for c in numeric}
    rows_of: dict[tuple, list[int]] = {}  # each distinct set of conditions once, in file order
    for row, key in enumerate(frame.itertuples(index=False, name=None)):
        rows_of.setdefault(key, []).append(row)
    for key, rows in rows_of.items():
        rows = np.asarray(rows)
        given = {c: v for c, v in zip(frame.columns, key) if v != ""}
        conditions = loaded.conditions(given, flag=f"{flag} row {rows[0] + 1}:")
        vectors[rows] = loaded.attributes.sample(len(rows), rng, conditions.codes, conditions.values)
        for c in numeric:
            if c in conditions.given:
                exact[loaded.scaler.columns.index(c)][rows] = conditions.given[c]
    return RowConditions(vectors, exact)


@dataclass
class LoadedGenerator:
    network: torch.nn.Module  # the kind's sampler: noise() and forward()
    seq_len: int
    columns: list[str]  # the network's features (a categorical column is one-hot: `column=label` each)
    scaler: MinMaxScaler
    device: torch.device
    attributes: AttributeModel | None = None  # with attribute columns: their joint distribution

    @property
    def output_columns(self) -> list[str]:
        """The columns of sampled rows beside sequence and step: numeric features, categorical features as labels,
        then the attributes."""
        return self.scaler.output_columns

    @property
    def conditions_width(self) -> int:
        return self.scaler.condition_width

    def conditions(self, raw: dict[str, object], flag: str = "--condition") -> Conditions:
        return parse_conditions(self.scaler, self.attributes, raw, flag)

    def _step_width(self) -> int:
        """Floats per sequence step in the widest tensor of a forward pass (output values count 4x: they are
        copied to float64, inverse-scaled and laid out as rows)."""
        widths = [4 * len(self.columns)]
        for module in self.network.modules():
            if isinstance(module, torch.nn.RNNBase):
                widths.append(module.hidden_size * (2 if module.bidirectional else 1))
            elif isinstance(module, torch.nn.Linear):
                widths.append(module.out_features)
        widths.append(self.network.noise(1, 1, generator=torch.Generator()).shape[-1] + self.conditions_width)  # not the global RNG
        return max(widths)

    def chunk_size(self, seq_len: int, chunk: int | None = None) -> int:
        """Sequences per generation chunk: `chunk` (default SAMPLE_CHUNK) unless seq_len is so long that
        activations would pass ELEMENT_BUDGET."""
        chunk = SAMPLE_CHUNK if chunk is None else chunk
        return max(1, min(chunk, ELEMENT_BUDGET // (seq_len * self._step_width())))

    @torch.no_grad()
    def iter_scaled(self, n: int, seed: int, seq_len: int | None = None, chunk: int | None = None,
                    conditions: Conditions = NO_CONDITIONS, vectors: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """(k, seq_len, dim) chunks in [0, 1] that together are the n sequences of `sample_scaled`. Noise is
        drawn on the CPU, so a seed gives the same noise on any device. A categorical column is its most likely
        category, one-hot, as a sampled row holds it. With attributes, each sequence's attribute vector is drawn
        from the attribute model given `conditions`, or taken from `vectors` (n, attribute columns), scaled."""
        seq_len = seq_len or self.seq_len
        chunk = self.chunk_size(seq_len, chunk)
        rng = torch.Generator().manual_seed(seed)
        attribute_rng = np.random.default_rng([seed, ATTRIBUTE_SEED])
        for begin in range(0, n, chunk):
            k = min(chunk, n - begin)
            z, valid = self.network.noise(k, seq_len, generator=rng), None
            if self.attributes is not None:
                drawn = np.asarray(vectors[begin:begin + k] if vectors is not None
                                   else self.attributes.sample(k, attribute_rng, conditions.codes, conditions.values))
                given = torch.as_tensor(drawn, dtype=z.dtype)[:, None, :].expand(k, seq_len, -1)
                if not self.scaler.max_len:
                    z = torch.cat([z, given], dim=-1)
                else:  # each sequence's drawn length: zero attributes past it, as in the padded training data
                    valid = torch.as_tensor(valid_mask(self.scaler.lengths_of(drawn), seq_len), dtype=z.dtype)[..., None]
                    z = torch.cat([z, given * valid, valid], dim=-1)
            out = harden(self.network(z.to(self.device)), self.scaler.groups).cpu()
            yield (out if valid is None else out * valid).numpy()

    def iter_samples(self, n: int, seed: int, seq_len: int | None = None, chunk: int | None = None,
                     conditions: Conditions = NO_CONDITIONS, per_row: "RowConditions | None" = None) -> Iterator[np.ndarray]:
        """`iter_scaled`'s chunks in the training data's original units (float64); a numeric condition exactly as
        given (the network carries it in float32). `per_row`: each sequence's own conditions (--conditions)."""
        exact = {self.scaler.columns.index(k): v for k, v in conditions.given.items() if k not in self.scaler.categories}
        vectors = None if per_row is None else per_row.vectors
        begin = 0
        for scaled in self.iter_scaled(n, seed, seq_len, chunk, conditions, vectors=vectors):
            out = self.scaler.inverse_transform(scaled.astype(np.float64))
            for column, value in exact.items():
                out[..., column] = value
            if per_row is not None:
                for column, values in per_row.exact.items():
                    given = values[begin:begin + len(out)]
                    out[..., column] = np.where(np.isnan(given)[:, None], out[..., column], given[:, None])
            begin += len(out)
            yield out

    def sample_scaled(self, n: int, seed: int, seq_len: int | None = None, chunk: int | None = None,
                      vectors: np.ndarray | None = None) -> np.ndarray:
        """(n, seq_len, dim) in [0, 1]. Noise is drawn on the CPU, so a seed gives the same noise on any device.
        `vectors`: each sequence's attribute vector (scaled), instead of drawing them."""
        seq_len = seq_len or self.seq_len
        out = list(self.iter_scaled(n, seed, seq_len, chunk, vectors=vectors))
        return np.concatenate(out) if out else np.empty((0, seq_len, len(self.columns)), dtype=np.float32)

    def sample(self, n: int, seed: int, seq_len: int | None = None, conditions: Conditions = NO_CONDITIONS) -> np.ndarray:
        """(n, seq_len, dim) in the training data's original units."""
        seq_len = seq_len or self.seq_len
        out = list(self.iter_samples(n, seed, seq_len, conditions=conditions))
        return np.concatenate(out) if out else np.empty((0, seq_len, len(self.columns)), dtype=np.float64)

    def long_frame(self, windows: np.ndarray, first_id: int = 0) -> pd.DataFrame:
        """Sampled windows in original units as rows: `to_long_frame` of the numeric columns, then each categorical
        column as its labels."""
        decoded = self.scaler.decode(windows)
        numeric = self.scaler.numeric_columns
        frame = to_long_frame(np.stack([decoded[c] for c in numeric], axis=-1) if numeric else windows[..., :0], numeric, first_id)
        for column in self.scaler.output_columns[len(numeric):]:
            frame[column] = decoded[column].reshape(-1)
        if self.scaler.max_len:  # sequences mode: each sequence's own steps, no padding
            frame = frame[windows[..., -1].reshape(-1) > 0.5].reset_index(drop=True)
        return frame


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    payload = checkpoint.load(path, checkpoint.GENERATOR_FORMAT, map_location="cpu")
    return generator_from_payload(payload, device, path)


def generator_from_payload(payload: dict, device: str | torch.device, path: str | Path) -> LoadedGenerator:
    """A generator file's contents (rgan.training.trainer.generator_payload) ready to sample; `path` names it in errors."""
    checkpoint.check_generator(payload, path)
    device = resolve_device(str(device))
    scaler = MinMaxScaler.from_dict(payload["scaler"])
    try:
        model = parse_model(own_settings("model", payload["model"], payload["model"].get("kind", "rgan")))
        if int(payload["dim"]) != len(scaler.columns):
            raise ValueError(f"its network has {payload['dim']} columns for the scaler's {len(scaler.columns)}")
        conditions = scaler.condition_width
        network = build_sampler(model, int(payload["dim"]), scaler.groups, conditions)
        network.load_state_dict(payload["state_dict"])
        seq_len, columns = int(payload["seq_len"]), list(payload["columns"])
        attributes = AttributeModel.from_dict(payload["attributes"]) if conditions else None
        if attributes is not None and attributes.width != scaler.attribute_width:
            raise ValueError(f"its attribute model has {attributes.width} columns for {scaler.attribute_width} attribute columns")
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # pydantic's ValidationError is a ValueError
        raise RganError(f"{path} is a damaged generator file: {exc}") from None
    network.eval()
    return LoadedGenerator(network=network.to(device), seq_len=seq_len, columns=columns, scaler=scaler, device=device,
                           attributes=attributes)


def to_long_frame(windows: np.ndarray, columns: list[str], first_id: int = 0) -> pd.DataFrame:
    """One row per (sequence, step), features named as in the training data; sequences numbered from first_id."""
    n, seq_len, dim = windows.shape
    frame = pd.DataFrame(windows.reshape(n * seq_len, dim), columns=columns)
    frame.insert(0, STEP, np.tile(np.arange(seq_len), n))
    frame.insert(0, SEQUENCE_ID, np.repeat(np.arange(first_id, first_id + n), seq_len))
    return frame


def write_frame(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write a whole frame at once (small outputs; `sample_to_file` streams instead)."""
    out = Path(out)
    kind = output_kind(out)
    with atomic_path(out) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return out


def output_kind(out: str | Path) -> str:
    """'csv' or 'parquet' from the file name's suffix; a RganError naming --out otherwise."""
    out = Path(out)
    kind = WRITERS.get(out.suffix.lower())
    if kind is None:
        raise RganError(f"--out {out}: unsupported format '{out.suffix}' (allowed: {', '.join(WRITERS)})")
    return kind


MAX_THREADS = 1024


def check_sample_bounds(n: int, seq_len: int | None, seed: int = 0, threads: int = 1) -> None:
    """The sampling request's sizes, seed and threads, checked before any work (and before a model is downloaded)."""
    if not 1 <= threads <= MAX_THREADS:
        raise RganError(f"--threads must be 1 to {MAX_THREADS} (got {threads})")
    if not 0 <= seed <= SEED_MAX:
        raise RganError(f"--seed must be 0 to {SEED_MAX} (got {seed})")
    if not 1 <= n <= MAX_N:
        raise RganError(f"-n must be at least 1 and at most {MAX_N} (got {n})")
    if seq_len is not None and not 1 <= seq_len <= MAX_SEQ_LEN:
        raise RganError(f"--seq-len must be at least 1 and at most {MAX_SEQ_LEN} (got {seq_len})")


def _long_table(windows: np.ndarray, first_id: int, schema):
    """The arrow table of `to_long_frame(windows, columns, first_id)`, built without pandas."""
    import pyarrow as pa

    n, seq_len, dim = windows.shape
    ids = np.repeat(np.arange(first_id, first_id + n, dtype=np.int64), seq_len)
    steps = np.tile(np.arange(seq_len, dtype=np.int64), n)
    by_column = np.ascontiguousarray(windows.reshape(n * seq_len, dim).T)
    return pa.Table.from_arrays([pa.array(ids), pa.array(steps), *(pa.array(c) for c in by_column)], schema=schema)


def _arrow_csv_mask(values: np.ndarray) -> np.ndarray:
    """Where Arrow's CSV writer prints a float64 exactly as pandas (Python's repr) does. Both print the shortest
    round-trip digits, but Python uses plain notation for 1e-4 <= |x| < 1e16 and writes integral values as
    '1.0', while Arrow uses plain notation for 1e-6 <= |x| < 1e10 and writes '1'. So: non-integral values with
    1e-4 <= |x| < 1e10 (NaN and inf are outside)."""
    magnitude = np.abs(values)
    return (magnitude >= 1e-4) & (magnitude < 1e10) & (values != np.trunc(values))


def _python_csv_line(sequence_id: int, step: int, values: list[float]) -> bytes:
    """One row as pandas prints it: Python's repr of each float, NaN as an empty field."""
    return ",".join([str(sequence_id), str(step), *("" if math.isnan(v) else repr(v) for v in values)]).encode()


class _CsvChunkWriter:
    """Appends chunks to one open binary file, byte for byte as one `to_long_frame(all).to_csv(index=False)`, at
    Arrow's speed (pandas' writer took 30-38 s of a 45-59 s `sample -n 100000`): pyarrow's CSV writer prints every
    row, and the few rows holding a value Arrow prints otherwise than pandas (a tiny, huge or whole number) are
    printed again by Python as pandas would. The result is checked against pandas on the first chunk's rows before
    Arrow is trusted; where they ever differ, pandas writes."""

    ARROW_PROBE_ROWS = 2000

    def __init__(self, fh, columns: list[str]):
        self.fh, self.columns = fh, columns
        self.schema = None
        self.arrow = None if os.linesep == "\n" else False  # None: not probed yet

    def _fast_bytes(self, windows: np.ndarray, first_id: int) -> bytes:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        sink = pa.BufferOutputStream()
        pa_csv.write_csv(_long_table(windows, first_id, self.schema), sink, write_options=pa_csv.WriteOptions(include_header=False))
        data = sink.getvalue().to_pybytes()
        n, seq_len, dim = windows.shape
        values = windows.reshape(n * seq_len, dim)
        differing = np.flatnonzero(~_arrow_csv_mask(values).all(axis=1))
        if len(differing) == 0:
            return data
        lines = data.split(b"\n")
        for row in differing.tolist():
            lines[row] = _python_csv_line(first_id + row // seq_len, row % seq_len, values[row].tolist())
        return b"\n".join(lines)

    def _pandas(self, windows: np.ndarray, first_id: int) -> None:
        to_long_frame(windows, self.columns, first_id).to_csv(self.fh, index=False, header=False)

    def write(self, windows: np.ndarray, first_id: int) -> None:
        if self.schema is None:
            import pyarrow as pa

            empty = to_long_frame(windows[:0], self.columns)
            empty.to_csv(self.fh, index=False)  # the header line, exactly as pandas writes it
            self.schema = pa.Schema.from_pandas(empty, preserve_index=False)
        if self.arrow is None:
            probe = windows[: max(1, self.ARROW_PROBE_ROWS // windows.shape[1])]
            expected = to_long_frame(probe, self.columns, first_id).to_csv(index=False, header=False).encode()
            self.arrow = self._fast_bytes(probe, first_id) == expected
        if self.arrow:
            self.fh.write(self._fast_bytes(windows, first_id))
        else:
            self._pandas(windows, first_id)


class _ParquetChunkWriter:
    """Appends chunks to a Parquet file, gathered into row groups of about ROW_GROUP_BYTES."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = path, columns
        self.writer = self.schema = None
        self.pending, self.pending_rows = [], 0

    def write(self, windows: np.ndarray, first_id: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.schema = pa.Schema.from_pandas(to_long_frame(windows[:0], self.columns), preserve_index=False)
            self.writer = pq.ParquetWriter(self.path, self.schema)
            self.group_rows = max(1, ROW_GROUP_BYTES // (8 * len(self.schema)))
        table = _long_table(windows, first_id, self.schema)
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.group_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.pending:
            table = pa.concat_tables(self.pending)
            self.pending, self.pending_rows = [], 0
            self.writer.write_table(table, row_group_size=table.num_rows)

    def close(self) -> None:
        if self.writer is not None:
            self.flush()
            self.writer.close()

    def abandon(self) -> None:
        """Close the file after a failure, writing nothing more (the caller deletes it)."""
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # the failure being raised matters, not this one
                pass


def _write_labelled(loaded: LoadedGenerator, chunks: Iterator[np.ndarray], path: Path, kind: str) -> None:
    """Chunks with categorical columns, as labelled frames: pandas' CSV writer (text labels are not Arrow's fast
    path), or Parquet row groups with the first chunk's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first_id, writer = 0, None
    with open(path, "wb") as fh:
        try:
            for windows in chunks:
                frame = loaded.long_frame(windows, first_id)
                if kind == "csv":
                    frame.to_csv(fh, index=False, header=first_id == 0)
                else:
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    writer = writer or pq.ParquetWriter(fh, table.schema)
                    writer.write_table(table.cast(writer.schema))
                first_id += len(windows)
        finally:
            if writer is not None:
                writer.close()


def sample_to_file(generator_path: str | Path, n: int | None, seed: int, out: str | Path, seq_len: int | None = None,
                   device: str = "cpu", threads: int = 1, conditions: dict[str, object] | None = None,
                   conditions_file: str | Path | None = None) -> Path:
    """Draw n sequences and write them in long format to out (.csv, .parquet or .pq), streaming: memory does not
    grow with n. Written through a temporary file, so a failure leaves neither a partial file nor the temporary.
    threads: torch's CPU threads for generation; one by default (measured fastest: bench/sample_memory.py).
    conditions: attribute -> value for every sequence (the other attributes drawn given them); conditions_file:
    a CSV of attributes, one sequence per row (n is then its row count)."""
    out = Path(out)
    kind = output_kind(out)
    check_sample_bounds(1 if n is None else n, seq_len, seed, threads)
    with torch_threads(threads):
        return _sample_to_file(generator_path, n, seed, out, kind, seq_len, device, conditions or {}, conditions_file)


def _sample_to_file(generator_path, n: int | None, seed: int, out: Path, kind: str, seq_len: int | None, device: str,
                    conditions: dict[str, object], conditions_file: str | Path | None) -> Path:
    loaded = load_generator(generator_path, device)
    if loaded.scaler.max_len and seq_len is not None:
        raise RganError("--seq-len: this generator draws each sequence's own length (data.mode sequences, up to "
                        f"{loaded.scaler.max_len} steps); leave --seq-len out")
    per_row = None
    if conditions_file is not None:
        per_row = read_row_conditions(conditions_file, loaded, seed)
        n = len(per_row.vectors)
    chunks = loaded.iter_samples(n, seed, seq_len, conditions=loaded.conditions(conditions), per_row=per_row)
    with atomic_path(out) as tmp:
        if loaded.scaler.categories or loaded.scaler.attributes:
            _write_labelled(loaded, chunks, tmp, kind)
        elif kind == "csv":
            with open(tmp, "wb") as fh:
                writer = _CsvChunkWriter(fh, loaded.columns)
                first_id = 0
                for windows in chunks:
                    writer.write(windows, first_id)
                    first_id += len(windows)
        else:
            writer = _ParquetChunkWriter(tmp, loaded.columns)
            try:
                first_id = 0
                for windows in chunks:
                    writer.write(windows, first_id)
                    first_id += len(windows)
            except BaseException:
                writer.abandon()
                raise
            writer.close()
    return out
