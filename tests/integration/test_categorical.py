"""Categorical feature columns end to end, for every model kind: prepare one-hot encodes them, training generates
them as a softmax, sampling writes their labels (CSV and Parquet alike), evaluate scores their frequencies, and the
MLflow model answers with the same labelled rows as `rgan sample`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import cli_env, run, tiny, write_params

STATES = ["fault", "idle", "run"]


def machines_csv(path, machines: int = 40, steps: int = 30, seed: int = 0) -> None:
    """Per-machine series: a text state that persists and switches now and then, power that follows the state, and
    an integer mode code."""
    rng = np.random.default_rng(seed)
    rows = []
    for machine in range(machines):
        state = rng.choice(STATES, p=[0.1, 0.5, 0.4])
        for t in range(steps):
            if rng.random() < 0.1:
                state = rng.choice(STATES, p=[0.1, 0.5, 0.4])
            power = (2.0 if state == "run" else 0.5 if state == "idle" else 0.0) + 0.1 * rng.normal()
            rows.append((machine, t, power, int(rng.integers(1, 4)), state))
    pd.DataFrame(rows, columns=["machine", "t", "power", "mode", "state"]).to_csv(path, index=False)


def project(root, kind: str = "rgan") -> None:
    machines_csv(root / "machines.csv")
    raw = tiny(data={"path": "machines.csv", "time_column": "t", "sequence_column": "machine", "seq_len": 8,
                     "categorical_columns": ["state", "mode"]})
    if kind != "rgan":  # tiny's model settings are rgan's
        raw["model"] = {"kind": kind, "hidden": 8}
    write_params(root / "params.yaml", raw)


@pytest.mark.parametrize("kind", ["rgan", "timegan", "vaegan"])
def test_labels_round_trip_through_every_kind(tmp_path, kind):
    project(tmp_path, kind)
    code, err = run("prepare", cwd=tmp_path)
    assert code == 0, err
    stats = json.loads((tmp_path / "data/prepared/stats.json").read_text())
    assert stats["categories"] == {"state": STATES, "mode": [1, 2, 3]}
    assert stats["columns"] == ["power", "state=fault", "state=idle", "state=run", "mode=1", "mode=2", "mode=3"]
    code, err = run("train", "--no-mlflow", cwd=tmp_path)
    assert code == 0, err
    for out in ("s.csv", "s.parquet", "again.csv"):
        code, err = run("sample", "-n", "5", "--seed", "3", "--out", out, cwd=tmp_path)
        assert code == 0, err
    from_csv, from_parquet = pd.read_csv(tmp_path / "s.csv"), pd.read_parquet(tmp_path / "s.parquet")
    assert list(from_csv.columns) == ["sequence_id", "step", "power", "state", "mode"]
    assert len(from_csv) == 5 * 8 and set(from_csv.state) <= set(STATES) and set(from_csv["mode"]) <= {1, 2, 3}
    assert from_parquet["mode"].dtype == np.int64 and from_csv["power"].dtype == np.float64
    pd.testing.assert_frame_equal(from_csv, from_parquet.astype(from_csv.dtypes.to_dict()))
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "again.csv").read_bytes()  # same seed, same bytes


def test_evaluate_scores_category_frequencies(tmp_path):
    project(tmp_path)
    for args in (("prepare",), ("train", "--no-mlflow"), ("evaluate", "--no-mlflow", "--no-plots")):
        code, err = run(*args, cwd=tmp_path)
        assert code == 0, err
    metrics = json.loads((tmp_path / "metrics/eval.json").read_text())
    assert 0 <= metrics["category_tv"]["mean"] <= 1
    shares = metrics["category_frequencies"]
    assert set(shares) == {"state", "mode"} and set(shares["state"]) == set(STATES) and set(shares["mode"]) == {"1", "2", "3"}
    for column in shares.values():
        assert sum(v["real"] for v in column.values()) == pytest.approx(1, abs=1e-5)
        assert sum(v["synthetic"] for v in column.values()) == pytest.approx(1, abs=1e-5)


def test_mlflow_model_answers_with_labels_as_rgan_sample_writes_them(tmp_path):
    project(tmp_path)
    for args in (("prepare",), ("train",)):
        code, err = run(*args, cwd=tmp_path)
        assert code == 0, err
    uri = json.loads((tmp_path / "models/mlflow_run.json").read_text())["model_uri"]
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model({uri!r})\n"
        "m.predict(pd.DataFrame({'n': [4], 'seed': [7]})).to_csv(sys.argv[1], index=False)\n"
        "print({c['name']: c['type'] for c in m.metadata.get_output_schema().to_dict()})\n"
    )
    result = subprocess.run([sys.executable, "-c", script, "pyfunc.csv"], cwd=tmp_path, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "'state': 'string'" in result.stdout and "'mode': 'long'" in result.stdout and "'power': 'double'" in result.stdout
    assert run("sample", "-n", "4", "--seed", "7", "--out", "file.csv", cwd=tmp_path)[0] == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pyfunc.csv"), pd.read_csv(tmp_path / "file.csv"))
