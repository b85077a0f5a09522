"""The evaluation's real-data references, cached: the discriminative floor (real training windows scored as if they
were synthetic) and the predictive score of a forecaster trained on real windows. Neither depends on the generator,
only on the prepared data and the evaluate settings, so each (data, settings) pair is computed once and reused by
every later evaluation of it (a retrained generator, a re-score, a tuning run). The scores are the same either way.

The cache lives in $RGAN_CACHE_DIR, else $XDG_CACHE_HOME/rgan, else ~/.cache/rgan; RGAN_CACHE_DIR=off turns it off.
It also keeps context-FID's trained encoders (rgan.evaluation.context_fid.encoder_for), a folder per kind of entry.
An entry is keyed by the prepared data's content hashes, the settings the references read, the device type, and the
versions of rgan, of this format and of torch (a new kernel may round differently). A cache that cannot be written
or an entry that does not read back is noted on stderr and the references computed: never a wrong number.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import rgan
from rgan.atomic import write_json
from rgan.config import EvaluateConfig
from rgan.notes import note

FORMAT = "rgan-reference/2"  # 2: the references train as groups of their own (in the repeats' group they differed by ~1e-6)
NAMES = ("discriminative_floor", "predictive_real")
# the evaluate settings the references read (repeats: how many; the rest: how each is computed)
SETTINGS = ("repeats", "discriminative_iterations", "predictive_iterations", "batch_size", "max_windows", "real_windows", "seed")
ENV = "RGAN_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where references are kept; None when the cache is off."""
    given = os.environ.get(ENV)
    if given is not None:
        return None if given.strip().lower() in ("", "off") else Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rgan"


def key(prepared_stats: dict, cfg: EvaluateConfig, device_type: str, train_limit: int) -> str:
    import torch

    identity = {
        "format": FORMAT, "rgan": rgan.__version__, "torch": torch.__version__, "device": device_type,
        "data": prepared_stats.get("sha256"), "seq_len": prepared_stats.get("seq_len"), "train_limit": train_limit,
        "settings": {name: getattr(cfg, name) for name in SETTINGS},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def cache_path(kind: str, name: str) -> Path | None:
    """Where the cache keeps entry `name` of `kind` (a folder per kind); None when the cache is off."""
    folder = cache_dir()
    return None if folder is None else folder / kind / name


def note_not_cached(what: str, path: Path, exc: OSError) -> None:
    note(f"{what} is not cached: {path.parent} is not writable ({exc.strerror or exc}); "
         f"set {ENV} to a writable folder, or {ENV}=off")


def _path(entry: str) -> Path | None:
    return cache_path("references", f"{entry}.json")


def load(entry: str, repeats: int) -> dict[str, list[float]] | None:
    """The cached references of `entry`, or None (absent, off, or unreadable: then said on stderr)."""
    path = _path(entry)
    if path is None or not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        values = {name: [float(v) for v in saved[name]] for name in NAMES}
        if saved.get("format") != FORMAT or saved.get("key") != entry:
            raise ValueError("another format or key")
        if any(len(v) != repeats or not all(math.isfinite(x) for x in v) for v in values.values()):
            raise ValueError(f"not {repeats} finite values per reference")
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        note(f"cached real-data reference {path} ignored ({type(exc).__name__}: {exc}); computing it again")
        return None
    return values


def store(entry: str, values: dict[str, list[float]]) -> None:
    path = _path(entry)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"format": FORMAT, "key": entry, **{name: values[name] for name in NAMES}})
    except OSError as exc:
        note_not_cached("the real-data reference", path, exc)
