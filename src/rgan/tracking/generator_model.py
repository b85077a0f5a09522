"""The generator as an MLflow pyfunc model: `predict` returns sequences in original units, in long format.

Logged as "models from code" (model_code.py), so nothing is pickled: the model is this code, shipped with the
model (code_paths), plus the generator file, a state dict loaded with weights_only=True.

Requests: an input frame with columns `n` (sequences) and `seed`, one row per request (rows are concatenated,
sequence ids running on); or the same as params. `seq_len` (params) draws longer or shorter sequences. A generator
trained with attributes also takes a column (or param) per attribute: the condition of that row's sequences (empty:
drawn given the others).
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

GENERATOR_ARTIFACT = "generator"  # key in `artifacts`; the file is stored under artifacts/ in the model
DEFAULT_SEED = 0
MAX_VALUES = 50_000_000  # sequences x steps x features per request: a typo (n=1e9) must not exhaust the server's memory


def _int(value, name: str) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise ValueError(f"{name} is required")
    if float(value) != int(value):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    return int(value)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def requests_from(model_input, params: dict | None, attributes: list[str] = ()) -> list[tuple[int, int, dict]]:
    """(n, seed, conditions) of each input row, falling back to params for a missing column or an empty frame."""
    params = params or {}
    frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input if model_input is not None else [])
    default_n = params.get("n")
    default_seed = params.get("seed", DEFAULT_SEED)
    if default_seed is None:
        default_seed = DEFAULT_SEED
    defaults = {a: params[a] for a in attributes if _present(params.get(a))}
    if frame.empty:
        return [(_int(default_n, "n"), _int(default_seed, "seed"), defaults)]
    out = []
    for _, row in frame.iterrows():
        n = row["n"] if "n" in frame and not pd.isna(row["n"]) else default_n
        seed = row["seed"] if "seed" in frame and not pd.isna(row["seed"]) else default_seed
        given = {**defaults, **{a: row[a] for a in attributes if a in frame and _present(row[a])}}
        out.append((_int(n, "n"), _int(seed, "seed"), given))
    return out


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from rgan.sampling import load_generator

        self.generator = load_generator(context.artifacts[GENERATOR_ARTIFACT], device="cpu")

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from rgan.sampling import SEQUENCE_ID

        requests = requests_from(model_input, params, self.generator.scaler.attributes)
        seq_len = (params or {}).get("seq_len")
        seq_len = None if seq_len is None else _int(seq_len, "seq_len")
        if seq_len is not None and seq_len < 1:
            raise ValueError(f"seq_len must be at least 1 (got {seq_len})")
        if seq_len is not None and self.generator.scaler.max_len:
            raise ValueError("seq_len: this generator draws each sequence's own length (data.mode sequences); leave seq_len out")
        if any(n < 1 for n, _, _ in requests):
            raise ValueError(f"n must be at least 1 (got {[n for n, _, _ in requests]})")
        values = sum(n for n, _, _ in requests) * (seq_len or self.generator.seq_len) * len(self.generator.columns)
        if values > MAX_VALUES:
            raise ValueError(f"the request asks for {values:,} values, over the limit of {MAX_VALUES:,}: split it")
        frames, offset = [], 0
        from rgan.errors import RganError

        for n, seed, given in requests:
            try:
                conditions = self.generator.conditions(given, flag="condition")
            except RganError as exc:  # a bad request: the server answers it with this message
                raise ValueError(str(exc)) from None
            frame = self.generator.long_frame(self.generator.sample(n, seed, seq_len, conditions))
            frame[SEQUENCE_ID] += offset
            frames.append(frame)
            offset += n
        return pd.concat(frames, ignore_index=True)
