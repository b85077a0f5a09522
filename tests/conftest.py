"""Shared fixtures: tiny settings that train in seconds, a small sines dataset, a CLI runner."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
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
        "validate_iterations": 5,  # the validation's encoder: seconds at TS2Vec's 200 iterations, for every training
    },
    "evaluate": {
        "repeats": 2,
        "discriminative_iterations": 20,
        "predictive_iterations": 20,
        "context_fid_iterations": 10,
        "batch_size": 16,
        "plot_samples": 30,
        "device": "cpu",
        "workers": 1,  # no process pool for tiny tasks (test_evaluation covers 2 workers)
    },
}


@pytest.fixture(scope="session", autouse=True)
def _reference_cache(tmp_path_factory):
    """The evaluation's reference cache (rgan.evaluation.reference) in a folder of this test session, never the
    user's ~/.cache: a test sees only what this run cached. Subprocesses inherit it."""
    previous = os.environ.get("RGAN_CACHE_DIR")
    os.environ["RGAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("rgan-cache"))
    yield
    if previous is None:
        os.environ.pop("RGAN_CACHE_DIR", None)
    else:
        os.environ["RGAN_CACHE_DIR"] = previous


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


@pytest.fixture(autouse=True)
def _mlflow_store(tmp_path_factory, monkeypatch):
    """Tests track into a store of their own, never the project's mlflow.db. One per session: creating a
    store's tables takes seconds. Tests that need the embedded default unset the variable."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.getbasetemp() / 'mlflow-tests.db'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """A real `mlflow server`: SQLite backend and proxied artifacts in `root`, on a free port of 127.0.0.1."""

    def __init__(self, root: Path, port: int | None = None):
        self.root, self.port = root, port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "MlflowServer":
        env = cli_env()
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log = (self.root / "server.log").open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
             "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, (self.root / "server.log").read_text()
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"mlflow server on port {self.port} did not answer in {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)  # the server's workers too
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


def read_log(path) -> list[dict]:
    """A training log (TSV) as rows of text."""
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def tensors_equal(a, b) -> bool:
    """Equal to the bit, through nested dicts and lists (checkpoints, state dicts)."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b))
    return a == b


def load_ckpt(path):
    import torch

    return torch.load(path, weights_only=True)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request, monkeypatch):
    """tests/unit is the fast lane: pure and in process. A test there that starts a process (the CLI, a server, DVC)
    belongs in tests/integration; this makes it fail instead of quietly slowing the lane down."""
    if request.node.path.is_relative_to(ROOT / "tests" / "unit"):
        def refuse(*args, **kwargs):
            raise AssertionError("a unit test must not start a process: move it to tests/integration")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


TIMEGAN_PHASES = {"autoencoder_steps": 10, "supervised_steps": 10}


def kind_params(kind: str, model: dict | None = None, train: dict | None = None) -> dict:
    """The tiny settings for this model kind: the settings it does not read left out (they would be refused)."""
    from rgan.config import MODEL_CLASSES

    raw = tiny(model={"kind": kind, **(model or {})},
               train={"steps": 40, **({"timegan": TIMEGAN_PHASES} if kind == "timegan" else {}), **(train or {})})
    raw["model"] = {k: v for k, v in raw["model"].items() if k in MODEL_CLASSES[kind].model_fields}
    return raw


def sine_windows(n: int, seed: int):
    """n built-in sine sequences of 24 steps x 3 features as a float32 array (n, 24, 3)."""

    from rgan.config import SinesConfig
    from rgan.data.sines import make_sines

    frame = make_sines(SinesConfig(n_sequences=n, length=24, dim=3, seed=seed))
    return frame[["feature_0", "feature_1", "feature_2"]].to_numpy(np.float32).reshape(n, 24, 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder where the tiny settings were prepared and trained through the CLI (no MLflow); one per test module."""
    path = tmp_path_factory.mktemp("trained")
    write_params(path / "params.yaml", TINY)
    for command in (["make-sines"], ["prepare"], ["train", "--no-mlflow"]):
        assert run(*command, cwd=path)[0] == 0
    return path


CLASSES = ["a", "b", "c"]


def entities_csv(path, entities: int = 60, steps: int = 16, seed: int = 0) -> None:
    """Entities of three classes with class-dependent frequency, a numeric size attribute and a text state."""
    rng = np.random.default_rng(seed)
    rows = []
    for entity in range(entities):
        cls = CLASSES[entity % 3]
        size = rng.uniform(1, 3)
        freq = {"a": 0.2, "b": 0.6, "c": 1.0}[cls]
        for t in range(steps):
            value = size * np.sin(freq * t) + 0.1 * rng.normal()
            rows.append((f"m{entity}", t, value, "up" if value > 0 else "down", cls, size))
    pd.DataFrame(rows, columns=["entity", "t", "value", "state", "class", "size"]).to_csv(path, index=False)
