"""Min-max scaling to [0, 1] stored as small JSON, so every later stage (and a sampler with no training data)
can turn model output back into original units.

Hand-written rather than sklearn's MinMaxScaler: it must round-trip through JSON and through a
torch checkpoint loaded with weights_only=True, which a pickled sklearn object cannot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rgan.atomic import write_json
from rgan.errors import RganError


def one_hot_name(column: str, label) -> str:
    """The network feature of one category of a categorical column."""
    return f"{column}={label}"


@dataclass(frozen=True)
class MinMaxScaler:
    """`columns` are the networks' features: the numeric columns, then one `column=label` one-hot column per
    category of each categorical column (`categories`: column -> labels, in that order), which stay 0/1."""

    columns: list[str]
    data_min: list[float]
    data_max: list[float]
    categories: dict[str, list] = field(default_factory=dict)

    @classmethod
    def fit(cls, values: np.ndarray, columns: list[str], categories: dict[str, list] | None = None) -> "MinMaxScaler":
        categories = dict(categories or {})
        one_hot = sum(len(labels) for labels in categories.values())
        numeric = len(columns) - one_hot
        low, high = np.min(values, axis=0).tolist(), np.max(values, axis=0).tolist()
        # one-hot columns are already in [0, 1], whichever categories the training rows happen to hold
        return cls(list(columns), low[:numeric] + [0.0] * one_hot, high[:numeric] + [1.0] * one_hot, categories)

    @property
    def numeric_columns(self) -> list[str]:
        return self.columns[: len(self.columns) - sum(len(labels) for labels in self.categories.values())]

    @property
    def groups(self) -> tuple[tuple[int, int], ...]:
        """(start, stop) of each categorical column's one-hot block among `columns`."""
        out, start = [], len(self.numeric_columns)
        for labels in self.categories.values():
            out.append((start, start + len(labels)))
            start += len(labels)
        return tuple(out)

    @property
    def output_columns(self) -> list[str]:
        """The columns a user gets back: the numeric ones, then each categorical column as its labels."""
        return self.numeric_columns + list(self.categories)

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

    def decode(self, values: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(..., features) in original units -> the numeric part and, per categorical column, each row's category
        index (the largest of its block: a softmax's most likely category, a one-hot's one)."""
        numeric = len(self.numeric_columns)
        return values[..., :numeric], [np.argmax(values[..., a:b], axis=-1) for a, b in self.groups]

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.categories:
            del out["categories"]  # a scaler of numeric data reads as it always did
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "MinMaxScaler":
        try:
            categories = {str(k): list(v) for k, v in dict(data.get("categories") or {}).items()}
            scaler = cls(list(data["columns"]), [float(v) for v in data["data_min"]], [float(v) for v in data["data_max"]],
                         categories)
        except (KeyError, TypeError, ValueError) as exc:
            raise RganError(f"malformed scaler: {exc}") from None
        if not (len(scaler.columns) == len(scaler.data_min) == len(scaler.data_max)):
            raise RganError("malformed scaler: columns, data_min and data_max differ in length")
        expected = [one_hot_name(col, label) for col, labels in categories.items() for label in labels]
        if expected and scaler.columns[len(scaler.columns) - len(expected):] != expected:
            raise RganError("malformed scaler: its categories do not match its last columns")
        return scaler

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "MinMaxScaler":
        return cls.from_dict(json.loads(Path(path).read_text()))
