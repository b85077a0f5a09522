"""Settings as they cross into a Kubeflow run: the whole params as one JSON document (the pipeline parameter
`params`), and a sweep trial's overrides as one JSON document each. JSON text, not KFP dict parameters: those hold
no null and turn every number into a float. Each step parses and validates them as params.yaml is validated."""

from __future__ import annotations

import json
from typing import Any

from rgan.config import TUNABLE_SECTIONS, Params, parse_params
from rgan.errors import RganError

PARAMETER = "pipeline parameter params"


def document(params: Params) -> str:
    return json.dumps(params.model_dump(mode="json"))


def _loads(text: Any, what: str, expected: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RganError(f"{what}: not JSON text ({exc}); expected {expected}") from None


def parse_document(text: Any) -> Params:
    raw = _loads(text, PARAMETER, "the params as JSON (what `rgan pipeline compile` writes)")
    return parse_params(raw, PARAMETER)


def parse_configuration(text: Any) -> dict[str, dict]:
    """A sweep trial's settings: {section: {setting: value}}; "{}" is none. Values are checked when applied."""
    expected = f"a JSON object {{section: {{setting: value}}}} with sections among {', '.join(TUNABLE_SECTIONS)} (what a trial varies)"
    raw = _loads(text, "sweep configuration", expected)
    if not isinstance(raw, dict) or not all(k in TUNABLE_SECTIONS and isinstance(v, dict) for k, v in raw.items()):
        shown = str(text) if len(str(text)) <= 80 else str(text)[:77] + "..."
        raise RganError(f"sweep configuration {shown}: expected {expected}")
    return raw
