"""Shared fixtures: tiny settings that train in seconds, a small sines dataset, a CLI runner."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rgan.cli import main
from rgan.config import parse_params

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "data": {
        "path": "data/raw/sines.parquet",
        "time_column": "step",
        "sequence_column": "sequence_id",
        "split": "random",
        "sines": {"n_sequences": 300, "length": 24, "dim": 3, "seed": 0},
    },
    # the shipped recipe (per-sequence noise, moment loss, weight average), scaled down
    "model": {"cell": "lstm", "hidden": 8, "layers": 1, "z_dim": 2, "z_global_dim": 4},
    "train": {
        "steps": 20,
        "batch_size": 16,
        "moment_weight": 1.0,
        "ema_decay": 0.9,
        "log_every": 5,
        "checkpoint_every": 10,
        "device": "cpu",
        "threads": 1,  # tiny models run faster on one thread, and tests may share the cores
    },
    "evaluate": {
        "repeats": 2,
        "discriminative_iterations": 20,
        "predictive_iterations": 20,
        "batch_size": 16,
        "plot_samples": 30,
        "device": "cpu",
        "workers": 1,  # no process pool for tiny tasks (test_evaluation covers 2 workers)
    },
}


def tiny(**overrides) -> dict:
    """TINY with `section={key: value}` overrides merged in."""
    raw = copy.deepcopy(TINY)
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return raw


def complete(raw: dict) -> dict:
    """The shipped params.yaml with `raw` merged over it: DVC needs every param a stage lists to exist."""

    def merge(base: dict, over: dict) -> dict:
        return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in over.items()}}

    return merge(yaml.safe_load((ROOT / "params.yaml").read_text()), raw)


def write_params(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(*args: str, cwd: Path) -> tuple[int, str]:
    """Run `rgan ARGS` in-process in `cwd`; returns (exit code, stderr)."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(list(args))
        return code, err.getvalue()
    finally:
        os.chdir(old)


def cli_env() -> dict:
    """Environment for subprocesses: this interpreter's bin dir first, so `rgan` and `dvc` are the venv's."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_subprocess(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgan", *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, **kwargs)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project directory with tiny params and the sines data prepared."""
    write_params(tmp_path / "params.yaml", TINY)
    assert run("make-sines", cwd=tmp_path)[0] == 0
    assert run("prepare", cwd=tmp_path)[0] == 0
    return tmp_path


@pytest.fixture
def tiny_params():
    return parse_params(TINY)
