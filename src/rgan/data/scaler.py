"""Min-max scaling to [0, 1] stored as small JSON, so every later stage (and a sampler with no training data)
can turn model output back into original units.

Hand-written rather than sklearn's MinMaxScaler: it must round-trip through JSON and through a
torch checkpoint loaded with weights_only=True, which a pickled sklearn object cannot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rgan.atomic import write_json
from rgan.errors import RganError


@dataclass(frozen=True)
class MinMaxScaler:
    columns: list[str]
    data_min: list[float]
    data_max: list[float]

    @classmethod
    def fit(cls, values: np.ndarray, columns: list[str]) -> "MinMaxScaler":
        return cls(list(columns), np.min(values, axis=0).tolist(), np.max(values, axis=0).tolist())

    @property
    def _min(self) -> np.ndarray:
        return np.asarray(self.data_min, dtype=np.float64)

    @property
    def _range(self) -> np.ndarray:
        span = np.asarray(self.data_max, dtype=np.float64) - self._min
        # A column constant over the training rows maps to 0 instead of dividing by zero.
        return np.where(span > 0, span, 1.0)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self._min) / self._range

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self._range + self._min

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MinMaxScaler":
        try:
            scaler = cls(list(data["columns"]), [float(v) for v in data["data_min"]], [float(v) for v in data["data_max"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise RganError(f"malformed scaler: {exc}") from None
        if not (len(scaler.columns) == len(scaler.data_min) == len(scaler.data_max)):
            raise RganError("malformed scaler: columns, data_min and data_max differ in length")
        return scaler

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "MinMaxScaler":
        return cls.from_dict(json.loads(Path(path).read_text()))
