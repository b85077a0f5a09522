"""Settings as KFP pipeline parameters and back. KFP dict parameters hold no null and turn every number into a
float (3 -> 3.0): a null setting travels as NULL, and whole floats come back as ints (float settings accept ints)."""

from __future__ import annotations

from typing import Any

NULL = "__null__"


def to_pipeline(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, dict):
        return {k: to_pipeline(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_pipeline(v) for v in value]
    return value


def from_pipeline(value: Any) -> Any:
    if value == NULL:
        return None
    if isinstance(value, dict):
        return {k: from_pipeline(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_pipeline(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
