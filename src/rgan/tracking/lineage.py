"""Where a run came from: the code (git commit, uncommitted changes), the data (DVC hash) and the software."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from pathlib import Path

import rgan


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info() -> dict[str, str]:
    """Commit of the working directory's repository, and whether the code or configuration differ from it.

    "Dirty" looks at what makes the model: the rgan package, pyproject.toml, dvc.yaml and params.yaml (untracked
    new modules included). Not at dvc.lock or metrics files, which `dvc repro` itself rewrites mid-pipeline.
    """
    commit = _git("rev-parse", "HEAD")
    if not commit:
        # no repository here (the cluster image): the commit the image was built from, if the build recorded it
        return {"commit": os.environ.get("RGAN_GIT_COMMIT") or "unknown", "dirty": "unknown"}
    top = Path(_git("rev-parse", "--show-toplevel") or ".").resolve()
    package = Path(rgan.__file__).resolve().parent
    paths = [str(package)] if package.is_relative_to(top) else []
    paths += [name for name in ("pyproject.toml", "dvc.yaml", "params.yaml") if Path(name).exists()]
    status = _git("status", "--porcelain", "--", *paths) if paths else ""
    return {"commit": commit, "dirty": "unknown" if status is None else str(bool(status)).lower()}


def dvc_md5(path: str | Path) -> str:
    """The hash DVC records for `path` in dvc.lock (md5, with `.dir` for a directory), computed by DVC's own code."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as scratch:
        _, _, obj = build(HashFileDB(fs, scratch), str(Path(path).resolve()), fs, "md5", dry_run=True)
    return obj.hash_info.value


def software() -> dict[str, str]:
    import mlflow
    import torch

    return {
        "rgan": rgan.__version__,
        "torch": torch.__version__,
        "mlflow": mlflow.__version__,
        "python": platform.python_version(),
    }
