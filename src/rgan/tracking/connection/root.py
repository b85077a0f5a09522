"""The project root: where the embedded tracking store lives, wherever `rgan` runs from."""

from __future__ import annotations

from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    """The nearest directory up from `start` (default: the working directory) holding dvc.yaml or .git."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "dvc.yaml").is_file() or (directory / ".git").exists():
            return directory
    return here
