"""Atomic file output: write next to the target, then rename, so a failed stage leaves nothing half-written."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _temp_prefix(name: str) -> str:
    # The writer's PID is in every temporary name, so a later run can tell its own leftovers (a SIGKILL
    # mid-write) from a file another live process is still writing.
    return f".{name}.{os.getpid()}."


def remove_stale_temps(target: str | os.PathLike) -> list[Path]:
    """Delete temporary files and folders of `target` left by writers that no longer run; returns them."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    for stem in {target.stem, target.name}:
        for leftover in target.parent.glob(f".{glob.escape(stem)}.*.tmp*"):
            pid = leftover.name[len(stem) + 2:].split(".", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def _disk_full(exc: BaseException) -> bool:
    # numpy reports a short write as "N requested and M written" (no errno); pyarrow and others keep the text
    text = str(exc)
    return isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or "No space left" in text or " requested and " in text)


def _as_disk_full(exc: BaseException, target: Path) -> BaseException:
    """A full disk as the plain OSError it is, naming the output, whatever library hit it."""
    if _disk_full(exc):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    return exc


def _publish(tmp: Path, mode: int) -> None:
    # mkstemp/mkdtemp create private files (0600/0700); outputs get the usual umask-based mode.
    os.chmod(tmp, mode & ~_umask())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`, on error delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    # Keep the real suffix last: pandas, numpy and matplotlib pick the format from it.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target.stem), suffix=f".tmp{target.suffix}")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _publish(tmp_path, 0o666)
        os.replace(tmp_path, target)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        plain = _as_disk_full(exc, target)
        if plain is not exc:
            raise plain from None
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `target`; on success it replaces `target` as a whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp_path = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target.name), suffix=".tmp"))
    try:
        yield tmp_path
        _publish(tmp_path, 0o777)
        for child in tmp_path.rglob("*"):
            _publish(child, 0o777 if child.is_dir() else 0o666)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    except BaseException as exc:
        shutil.rmtree(tmp_path, ignore_errors=True)
        plain = _as_disk_full(exc, target)
        if plain is not exc:
            raise plain from None
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
