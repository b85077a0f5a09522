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
from rgan.data.sequences import LENGTH_COLUMN, VALID_COLUMN
from rgan.errors import RganError


def one_hot_name(column: str, label) -> str:
    """The network feature of one category of a categorical column."""
    return f"{column}={label}"


@dataclass(frozen=True)
class MinMaxScaler:
    """`columns` are the networks' features, in this order: numeric feature columns, one `column=label` one-hot
    column per category of each categorical feature column, then the attribute columns (`attributes`, static per
    entity), each one numeric column or a one-hot block. `categories`: every categorical column (feature or
    attribute) -> its labels, in one-hot order. One-hot columns stay 0/1."""

    columns: list[str]
    data_min: list[float]
    data_max: list[float]
    categories: dict[str, list] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    # sequences mode: the padded length; the attributes end with `_length` and the last column is `_valid` (0/1)
    max_len: int = 0

    @classmethod
    def fit(cls, values: np.ndarray, columns: list[str], categories: dict[str, list] | None = None,
            attributes: list[str] | None = None, max_len: int = 0) -> "MinMaxScaler":
        """`values` hold every column of `columns` (in sequences mode without the last, `_valid`, which is 0/1)."""
        layout = cls(list(columns), [0.0] * len(columns), [1.0] * len(columns), dict(categories or {}), list(attributes or []), max_len)
        numeric = [i for i in range(values.shape[1]) if not layout._is_one_hot(i)]
        low, high = list(layout.data_min), list(layout.data_max)
        for i in numeric:  # one-hot columns are already in [0, 1], whichever categories the training rows hold
            low[i], high[i] = float(np.min(values[:, i])), float(np.max(values[:, i]))
        return cls(layout.columns, low, high, layout.categories, layout.attributes, max_len)

    def _fields(self) -> list[tuple[str, int, int, bool]]:
        """(name, start, stop, is_attribute) of each field: one numeric column or one categorical block; in sequences
        mode `_valid` last, as an attribute-side column."""
        out, at = [], 0
        features = self.feature_width
        while at < features:
            name = self.columns[at]
            column = next((c for c in self.categories if c not in self.attributes and name == one_hot_name(c, self.categories[c][0])), None)
            width = len(self.categories[column]) if column is not None else 1
            out.append((column if column is not None else name, at, at + width, False))
            at += width
        for name in self.attributes:
            width = len(self.categories.get(name, [None]))
            out.append((name, at, at + width, True))
            at += width
        if self.max_len:
            out.append((VALID_COLUMN, at, at + 1, True))
        return out

    def _is_one_hot(self, index: int) -> bool:
        return any(name in self.categories and a <= index < b for name, a, b, _ in self._fields())

    @property
    def feature_width(self) -> int:
        """Columns a generator emits; the rest are the attributes (and in sequences mode `_valid`) it is given."""
        return len(self.columns) - sum(len(self.categories.get(a, [None])) for a in self.attributes) - (1 if self.max_len else 0)

    @property
    def condition_width(self) -> int:
        """Columns a generator is given at every step: the attributes' (in sequences mode `_length` and `_valid` too)."""
        return len(self.columns) - self.feature_width

    @property
    def numeric_columns(self) -> list[str]:
        return [name for name, _, _, attribute in self._fields() if not attribute and name not in self.categories]

    @property
    def groups(self) -> tuple[tuple[int, int], ...]:
        """(start, stop) of each categorical feature's one-hot block among `columns`."""
        return tuple((a, b) for name, a, b, attribute in self._fields() if not attribute and name in self.categories)

    @property
    def attribute_groups(self) -> tuple[tuple[int, int], ...]:
        """(start, stop) of each categorical attribute's one-hot block, counted from the first attribute column."""
        w = self.feature_width
        return tuple((a - w, b - w) for name, a, b, attribute in self._fields() if attribute and name in self.categories)

    @property
    def attribute_width(self) -> int:
        """Columns of an attribute vector (what the attribute model draws): every attribute, `_length` included."""
        return len(self.columns) - self.feature_width - (1 if self.max_len else 0)

    def lengths_of(self, vectors: np.ndarray) -> np.ndarray:
        """Sequences mode: the whole-step length in each attribute vector's scaled `_length` (its last column)."""
        low, high = self.data_min[-2], self.data_max[-2]
        return np.clip(np.rint(vectors[:, -1] * (high - low) + low), 1, self.max_len).astype(np.int64)

    @property
    def attribute_fields(self) -> list[tuple[str, int, int, bool]]:
        """(name, start, stop, categorical) of each attribute (in sequences mode `_length` last, `_valid` left out),
        counted from the first attribute column."""
        w = self.feature_width
        return [(name, a - w, b - w, name in self.categories) for name, a, b, attribute in self._fields()
                if attribute and name != VALID_COLUMN]

    @property
    def categorical_features(self) -> list[str]:
        return [name for name, _, _, attribute in self._fields() if not attribute and name in self.categories]

    @property
    def output_columns(self) -> list[str]:
        """The columns a user gets back: numeric features, categorical features as labels, then the attributes (a
        sequence's length shows as its rows, not as a column)."""
        return self.numeric_columns + self.categorical_features + [a for a in self.attributes if a != LENGTH_COLUMN]

    @property
    def _min(self) -> np.ndarray:
        return np.asarray(self.data_min, dtype=np.float64)

    @property
    def _range(self) -> np.ndarray:
        span = np.asarray(self.data_max, dtype=np.float64) - self._min
        # A column constant over the training rows maps to 0 instead of dividing by zero.
        return np.where(span > 0, span, 1.0)

    def transform_leading(self, values: np.ndarray) -> np.ndarray:
        """`transform` of the first values.shape[-1] columns (the series, without sequences mode's added columns)."""
        width = values.shape[-1]
        return (values - self._min[:width]) / self._range[:width]

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self._min) / self._range

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self._range + self._min

    def decode(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """(..., columns) in original units -> each output column: a numeric column's values, a categorical
        column's labels (its block's largest entry: a softmax's most likely category, a one-hot's one)."""
        out = {}
        for name, a, b, _ in self._fields():
            if name in self.categories:
                out[name] = np.asarray(self.categories[name])[np.argmax(values[..., a:b], axis=-1)]
            else:
                out[name] = values[..., a]
        return {name: out[name] for name in self.output_columns}

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("categories", "attributes", "max_len"):
            if not out[key]:
                del out[key]  # a scaler of numeric data reads as it always did
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "MinMaxScaler":
        try:
            categories = {str(k): list(v) for k, v in dict(data.get("categories") or {}).items()}
            attributes = [str(a) for a in data.get("attributes") or []]
            scaler = cls(list(data["columns"]), [float(v) for v in data["data_min"]], [float(v) for v in data["data_max"]],
                         categories, attributes, int(data.get("max_len") or 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise RganError(f"malformed scaler: {exc}") from None
        if not (len(scaler.columns) == len(scaler.data_min) == len(scaler.data_max)):
            raise RganError("malformed scaler: columns, data_min and data_max differ in length")
        if any(not labels for labels in categories.values()) or scaler.feature_width < 0:
            raise RganError("malformed scaler: its categories and attributes do not match its columns")
        try:
            fields = scaler._fields()
        except IndexError:
            fields = []
        expected = [one_hot_name(n, label) if n in categories else n for n, *_ in fields for label in categories.get(n, [None])]
        if expected != scaler.columns or set(categories) - {n for n, *_ in fields}:
            raise RganError("malformed scaler: its categories and attributes do not match its columns")
        return scaler

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "MinMaxScaler":
        return cls.from_dict(json.loads(Path(path).read_text()))
