"""Fetch the raw data a pipeline trains on: a DVC-tracked path at a git revision, or a plain (object-store) URI.

The record returned says exactly which data was used (resolved commit, content hash); it goes onto the MLflow run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rgan.atomic import atomic_path
from rgan.config import DataSource
from rgan.errors import RganError
from rgan.tracking.connection import redact
from rgan.tracking.lineage import dvc_md5  # the md5 `dvc add` records


def _from_dvc(repo: str, rev: str | None, path: str, dest: Path) -> dict:
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(repo, rev=rev or None)
    try:
        commit = fs.repo.scm.resolve_rev(rev or "HEAD")
        info = fs.info(path)
        with atomic_path(dest) as tmp:
            fs.get_file(path, str(tmp))
    except FileNotFoundError:
        raise RganError(f"{path} not found in DVC repository {redact(repo)} at {rev or 'its default branch'}") from None
    except Exception as exc:  # git and DVC errors (unknown revision, no remote access) come in many types
        raise RganError(f"cannot fetch {path} from DVC repository {redact(repo)} at {rev or 'its default branch'}: {exc}") from None
    finally:
        fs.close()
    return {"kind": "dvc", "repo": redact(repo), "rev": rev or "", "commit": commit, "path": path, "md5": info.get("md5") or dvc_md5(dest)}


def _from_uri(uri: str, dest: Path) -> dict:
    import fsspec

    try:
        with fsspec.open(uri, "rb") as src, atomic_path(dest) as tmp, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except FileNotFoundError:
        raise RganError(f"data file not found: {redact(uri)}") from None
    except Exception as exc:  # unknown protocol, driver not installed, no credentials, network: each store its own type
        raise RganError(f"cannot read {redact(uri)}: {exc or type(exc).__name__}") from None
    return {"kind": "uri", "uri": redact(uri), "md5": dvc_md5(dest)}


def fetch(source: DataSource, data_path: str, dest_dir: str | Path) -> tuple[Path, dict]:
    """Copy the data into dest_dir (keeping its file name, which says CSV or Parquet); return the copy and its record."""
    dest = Path(dest_dir) / Path(source.uri or data_path).name.split("?")[0]
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.repo:
        return dest, _from_dvc(source.repo, source.rev, data_path, dest)
    return dest, _from_uri(source.uri or data_path, dest)
