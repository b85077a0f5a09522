"""Notes on stderr: where rgan drops data or assumes a default, it says so (never silently)."""

from __future__ import annotations

import sys


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def plain(value) -> str:
    """A value as a user wrote it: numpy scalars as plain numbers (1.5, not np.float64(1.5)), text quoted."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    return repr(value) if isinstance(value, str) else str(value)
