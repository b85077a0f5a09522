"""A new user's bad inputs and a cluster's faults: each gets one clear line (or a correct result with a note on
stderr), never a traceback, never a partial or changed earlier output.

Each case runs the real CLI in a project folder holding tiny prepared sines and a trained generator, and
asserts the exit code, what the message names, and that no file in the folder changed (lock files aside)."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT, TINY, cli_env, run, tiny, write_params

from rgan.config import Params, load_params

LOCKS = (".train.lock",)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its content hash (lock files aside: they carry no data)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in LOCKS and "mlflow" not in p.name
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Tiny prepared sines and a trained generator, made once; each case works on a copy."""
    root = tmp_path_factory.mktemp("project")
    write_params(root / "params.yaml", TINY)
    for args in (("make-sines",), ("prepare",), ("train", "--no-mlflow")):
        code, err = run(*args, cwd=root)
        assert code == 0, err
    return root


@pytest.fixture
def here(project, tmp_path) -> Path:
    folder = tmp_path / "p"
    shutil.copytree(project, folder)
    return folder


def params_text(text: str | bytes) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / "bad.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())

    return setup


def params_with(**sections) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        write_params(folder / "bad.yaml", tiny(**sections))

    return setup


def csv_data(text: str, **data) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / "user.csv").write_text(text)
        write_params(folder / "bad.yaml", tiny(data={"path": "user.csv", "seq_len": 2, **data}))

    return setup


def dated(dates: list[str]) -> str:
    return "date,x,y\n" + "".join(f"{d},{i % 3},{i % 5}\n" for i, d in enumerate(dates))


def duplicate_parquet_columns(folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array([1.0, 2.0, 3.0]), pa.array([3.0, 4.0, 5.0])], names=["a", "a"]), folder / "user.parquet")
    write_params(folder / "bad.yaml", tiny(data={"path": "user.parquet", "seq_len": 2, "time_column": None, "sequence_column": None}))


class Payload:
    """Unpickling this would create a file: proof that a refused file ran nothing."""

    def __reduce__(self):
        return (Path.touch, (Path("PWNED"),))


def generator_file(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        payload = torch.load(folder / "models/generator.pt", weights_only=True)
        change(payload)
        torch.save(payload, folder / "bad.pt")

    return setup


def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def pickled(folder: Path) -> None:
    with (folder / "bad.pt").open("wb") as f:
        pickle.dump({"format": "rgan-generator/1", "x": Payload()}, f)


def torch_pickled(folder: Path) -> None:
    torch.save({"format": "rgan-generator/1", "x": Payload()}, folder / "bad.pt")


def narrower_scaler(payload: dict) -> None:
    payload["scaler"] = {k: v[:-1] for k, v in payload["scaler"].items()}


def other_columns(payload: dict) -> None:
    payload["scaler"]["columns"] = ["a", "b", "c"]


@dataclass
class Case:
    id: str
    command: tuple[str, ...]
    setup: Callable[[Path], None] | None
    expect: tuple[str, ...]  # all in stderr
    code: int = 1
    absent: tuple[str, ...] = ()  # never in stderr
    env: dict = field(default_factory=dict)


BAD = "--params", "bad.yaml"


CASES = [
    # params
    Case("yaml-duplicate-key", ("params", *BAD), params_text("train:\n  steps: 5\n  steps: 6\n"), ("bad.yaml", "key 'steps' appears twice", "lines 2 and 3")),
    Case("yaml-not-utf8", ("params", *BAD), params_text(b"train:\n  steps: 5 # caf\xe9\n"), ("bad.yaml", "not UTF-8", "0xe9", "line 2")),
    Case("yaml-syntax", ("params", *BAD), params_text("train: [\n"), ("bad.yaml", "not valid YAML", "line")),
    Case("yaml-not-a-mapping", ("params", *BAD), params_text("- 1\n- 2\n"), ("bad.yaml", "expected a mapping of sections",)),
    Case("unknown-key", ("params", *BAD), params_with(train={"stepz": 5}), ("unknown key 'train.stepz'", "allowed here")),
    Case("seed-beyond-64-bits", ("params", *BAD), params_with(train={"seed": 2**70}), ("train.seed", "less than or equal to 4294967295")),
    Case("negative-data-seed", ("params", *BAD), params_with(data={"seed": -1}), ("data.seed", "greater than or equal to 0")),
    Case("hidden-huge", ("params", *BAD), params_with(model={"hidden": 10_000_000}), ("model.hidden", "less than or equal to 4096")),
    Case("learning-rate-huge", ("params", *BAD), params_with(train={"g_lr": 1e30}), ("train.g_lr", "less than or equal to 1")),
    Case("activations-huge", ("params", *BAD), params_with(model={"hidden": 4096}, train={"batch_size": 65536}),
         ("train.batch_size 65536", "data.seq_len 24", "hidden 4096", "lower one of them")),
    Case("seq-len-huge", ("params", *BAD), params_with(data={"seq_len": 10**9}), ("data.seq_len", "less than or equal to 10000")),
    Case("time-format-without-directive", ("params", *BAD), params_with(data={"time_format": "dd/mm/yyyy"}),
         ("data.time_format", "has no % directive")),
    Case("time-equals-sequence", ("params", *BAD), params_with(data={"time_column": "id", "sequence_column": "id"}), ("must differ",)),
    Case("batch-above-windows", ("train", "--no-mlflow", *BAD), params_with(train={"batch_size": 5000}),
         ("train.batch_size 5000 is above the 210 training windows",)),
    Case("spectral-weight-negative", ("params", *BAD), params_with(train={"spectral_weight": -1}), ("train.spectral_weight", "greater than or equal to 0")),
    Case("feature-matching-weight-negative", ("params", *BAD), params_with(train={"feature_matching_weight": -0.5}),
         ("train.feature_matching_weight", "greater than or equal to 0")),
    Case("discriminator-scales-not-rising", ("params", *BAD), params_with(model={"discriminator_scales": [4, 1]}),
         ("model.discriminator_scales", "must start with 1")),
    Case("augment-unknown-transform", ("params", *BAD), params_with(train={"augment": ["flip"]}), ("train.augment", "flip")),
    Case("keep-best-without-validations", ("train", "--no-mlflow", *BAD), params_with(train={"validate_every": None}),
         ("train: keep best chooses among validations, and validate_every is null",)),
    Case("validate-every-zero", ("params", *BAD), params_with(train={"validate_every": 0}), ("train.validate_every", "greater than or equal to 1")),
    Case("validate-iterations-zero", ("params", *BAD), params_with(train={"validate_iterations": 0}), ("train.validate_iterations", "greater than or equal to 1")),
    Case("health-steps-zero", ("params", *BAD), params_with(train={"health_steps": 0}), ("train.health_steps", "greater than or equal to 1")),
    Case("precision-unknown", ("params", *BAD), params_with(train={"precision": "fp8"}), ("train.precision", "'fp32', 'bf16' or 'fp16'")),
    Case("precision-on-cpu", ("train", "--no-mlflow", *BAD), params_with(train={"precision": "bf16"}),
         ("train.precision bf16 is mixed precision for GPUs", "this run uses cpu", "set train.precision to fp32")),
    Case("precision-on-cpu-tracked", ("train", *BAD), params_with(train={"precision": "fp16"}), ("train.precision fp16",)),
    Case("compile-not-bool", ("params", *BAD), params_with(train={"compile": "yes"}), ("train.compile", "valid boolean")),
    # tune settings and command
    Case("tune-space-not-tunable", ("tune", "--no-mlflow", *BAD), params_with(tune={"space": {"data.seq_len": {"choices": [12]}}}),
         ("tune.space", "'data.seq_len' is not a setting that can be tuned")),
    Case("tune-space-fixed-setting", ("tune", "--no-mlflow", *BAD), params_with(tune={"space": {"train.steps": {"low": 10, "high": 20}}}),
         ("'train.steps' cannot be tuned",)),
    Case("tune-space-low-above-high", ("tune", "--no-mlflow", *BAD), params_with(tune={"space": {"train.g_lr": {"low": 0.01, "high": 0.001}}}),
         ("tune.space.train.g_lr", "low 0.01 must be below high 0.001")),
    Case("tune-space-log-of-zero", ("tune", "--no-mlflow", *BAD), params_with(tune={"space": {"train.moment_weight": {"low": 0, "high": 1, "log": True}}}),
         ("log: true needs low > 0",)),
    Case("tune-space-both", ("tune", "--no-mlflow", *BAD), params_with(tune={"space": {"model.cell": {"choices": ["gru"], "low": 1, "high": 2}}}),
         ("either choices or low/high",)),
    Case("tune-no-validation-windows", ("tune", "--no-mlflow", "--out", "t.yaml", "--prepared", "prep"),
         lambda folder: (write_params(folder / "params.yaml", tiny(data={"val_fraction": 0.0})),
                         run("prepare", "--out", "prep", cwd=folder)) and None,
         ("tuning scores trials on the validation windows, and there are 0", "data.val_fraction")),
    Case("tune-budget-negative", ("tune", "--no-mlflow", "--budget-min", "-1"), None, ("--budget-min -1", "allowed 0 < minutes")),
    Case("tune-trials-zero", ("tune", "--no-mlflow", "--trials", "0"), None, ("tune.trials", "greater than or equal to 1")),
    # data
    Case("dates-not-a-date", ("prepare", "--out", "prep", *BAD), csv_data(dated(["2024-01-02", "not a date", "2024-01-03"]), time_column="date", sequence_column=None),
         ("data.time_column 'date'", "row 2", "'not a date'", "data.time_format")),
    Case("dates-ambiguous", ("prepare", "--out", "prep", *BAD), csv_data(dated(["01/02/2024", "02/02/2024", "03/02/2024"]), time_column="date", sequence_column=None),
         ("'date' is ambiguous", "row 1", "%m/%d/%Y", "%d/%m/%Y", "set data.time_format")),
    Case("dates-wrong-format", ("prepare", "--out", "prep", *BAD),
         csv_data(dated(["31/01/2024", "2024-02-01", "02/02/2024"]), time_column="date", sequence_column=None, time_format="%d/%m/%Y"),
         ("row 2", "'2024-02-01'", "does not match data.time_format '%d/%m/%Y'")),
    Case("time-missing-value", ("prepare", "--out", "prep", *BAD), csv_data("t,x\n1,1\n,2\n3,3\n", time_column="t", sequence_column=None),
         ("data.time_column 't' is empty in row 2",)),
    Case("duplicate-csv-columns", ("prepare", "--out", "prep", *BAD), csv_data("a,a,t\n1,2,1\n3,4,2\n5,6,3\n", time_column="t", sequence_column=None),
         ("column name 'a' appears twice", "columns 1 and 2")),
    Case("duplicate-parquet-columns", ("prepare", "--out", "prep", *BAD), duplicate_parquet_columns, ("column name 'a' appears twice",)),
    Case("one-row-file", ("prepare", "--out", "prep", *BAD), csv_data("t,x,y\n1,2,3\n", time_column="t", sequence_column=None),
         ("has 1 row, fewer than data.seq_len = 2",), absent=("constant",)),
    Case("constant-column-plain-number", ("prepare", "--out", "prep", *BAD), csv_data("t,x,y\n1,2.5,1\n2,2.5,2\n3,2.5,3\n", time_column="t", sequence_column=None),
         ("column 'x' is constant (2.5 in every row)",), absent=("np.float64",)),
    Case("not-numeric-plain-value", ("prepare", "--out", "prep", *BAD), csv_data("t,x\n1,1\n2,oops\n3,3\n", time_column="t", sequence_column=None, columns=["x"]),
         ("column 'x' is not numeric: row 2 holds 'oops'",), absent=("np.",)),
    # categorical columns
    Case("categorical-missing-column", ("prepare", "--out", "prep", *BAD),
         csv_data("t,x,state\n1,1,a\n2,2,b\n3,3,a\n", time_column="t", sequence_column=None, categorical_columns=["mode"]),
         ("data.categorical_columns names columns that user.csv lacks: mode", "columns: t, x, state")),
    Case("categorical-fractional", ("prepare", "--out", "prep", *BAD),
         csv_data("t,x,level\n1,1,1\n2,2,2.5\n3,3,1\n", time_column="t", sequence_column=None, categorical_columns=["level"]),
         ("categorical column 'level': row 2 holds 2.5", "whole-number codes")),
    Case("categorical-one-category", ("prepare", "--out", "prep", *BAD),
         csv_data("t,x,state\n1,1,a\n2,2,a\n3,3,a\n", time_column="t", sequence_column=None, categorical_columns=["state"]),
         ("categorical column 'state' holds one category ('a') in every row",)),
    Case("categorical-too-many", ("prepare", "--out", "prep", *BAD),
         csv_data("t,x,id\n" + "".join(f"{i},{i % 7},u{i}\n" for i in range(70)), time_column="t", sequence_column=None, categorical_columns=["id"]),
         ("categorical column 'id' has 70 distinct values, more than 64 allowed",)),
    Case("categorical-missing-value", ("prepare", "--out", "prep", *BAD),
         csv_data("t,x,state\n1,1,a\n2,2,\n3,3,b\n", time_column="t", sequence_column=None, categorical_columns=["state"]),
         ("column 'state' has 1 missing values (first at row 2)", "data.missing")),
    Case("categorical-also-numeric", ("params", *BAD), params_with(data={"columns": ["x"], "categorical_columns": ["x"]}),
         ("['x'] in both columns and categorical_columns",)),
    Case("categorical-is-the-time-column", ("params", *BAD), params_with(data={"categorical_columns": ["step"]}),
         ("categorical_columns must not include the time or sequence column",)),
    # attributes
    Case("attribute-changes-within-entity", ("prepare", "--out", "prep", *BAD),
         csv_data("id,t,x,region\nm1,1,1,north\nm1,2,2,north\nm1,3,3,south\nm2,1,4,west\nm2,2,5,west\n",
                  time_column="t", sequence_column="id", attribute_columns=["region"]),
         ("attribute 'region' changes within entity 'm1': 'north' then 'south' (row 3)", "leave it out of data.attribute_columns")),
    Case("attribute-empty", ("prepare", "--out", "prep", *BAD),
         csv_data("id,t,x,size\nm1,1,1,2.5\nm1,2,2,\nm2,1,4,3\nm2,2,5,3\n", time_column="t", sequence_column="id", attribute_columns=["size"]),
         ("attribute 'size' is empty for entity 'm1' (row 2)",)),
    Case("attribute-missing-column", ("prepare", "--out", "prep", *BAD),
         csv_data("id,t,x\nm1,1,1\nm1,2,2\n", time_column="t", sequence_column="id", attribute_columns=["region"]),
         ("data.attribute_columns names columns that user.csv lacks: region",)),
    Case("attribute-without-entities", ("params", *BAD), params_with(data={"sequence_column": None, "attribute_columns": ["region"]}),
         ("attribute_columns are per entity: set sequence_column",)),
    # sequences mode
    Case("sequences-time-split", ("params", *BAD), params_with(data={"mode": "sequences", "split": "time"}),
         ("mode sequences splits whole sequences at random", "set split: random")),
    Case("sequences-min-above-max", ("params", *BAD), params_with(data={"mode": "sequences", "min_len": 30, "max_len": 20}),
         ("min_len 30 is above max_len 20",)),
    Case("sequences-mode-unknown", ("params", *BAD), params_with(data={"mode": "sequence"}), ("data.mode", "'windows' or 'sequences'")),
    Case("sequences-max-len-huge", ("params", *BAD), params_with(data={"max_len": 10**9}), ("data.max_len", "less than or equal to 10000")),
    Case("sequences-long-unknown", ("params", *BAD), params_with(data={"long_sequences": "drop"}), ("data.long_sequences", "'split' or 'truncate'")),
    Case("entities-too-few", ("params", *BAD), params_with(data={"entities": {"n_entities": 1}}), ("data.entities.n_entities", "greater than or equal to 3")),
    Case("sequences-reserved-column", ("prepare", "--out", "prep", *BAD),
         csv_data("id,t,x,_valid\nm1,1,1,0\nm1,2,2,1\n", time_column="t", sequence_column="id", mode="sequences"),
         ("column name '_valid' is reserved in data.mode sequences",)),
    # files we load
    Case("generator-pickle", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), pickled,
         ("bad.pt is not an rgan-generator file", "not written by rgan"), absent=("weights_only", "Weights only")),
    Case("generator-torch-pickle", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), torch_pickled,
         ("bad.pt is not an rgan-generator file", "nothing in it was run"), absent=("weights_only", "Weights only")),
    Case("generator-empty", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), write_bytes("bad.pt", b""),
         ("bad.pt is empty (0 bytes)",)),
    Case("generator-garbage", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), write_bytes("bad.pt", b"\x00garbage" * 10),
         ("bad.pt is not an rgan-generator file: it is damaged",)),
    Case("generator-scaler-width", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), generator_file(narrower_scaler),
         ("bad.pt is a damaged generator file", "its scaler has 2 columns")),
    Case("generator-scaler-columns", ("sample", "--generator", "bad.pt", "-n", "2", "--out", "s.csv"), generator_file(other_columns),
         ("bad.pt is a damaged generator file", "differ from the model's")),
    Case("checkpoint-as-generator", ("sample", "--generator", "models/checkpoints/last.pt", "-n", "2", "--out", "s.csv"), None,
         ("last.pt is not an rgan-generator file", "'rgan-checkpoint/1'")),
    Case("checkpoint-damaged", ("train", "--no-mlflow", "--resume"),
         lambda folder: torch.save({"format": "rgan-checkpoint/1", "step": 3}, folder / "models/checkpoints/last.pt"),
         ("last.pt is a damaged checkpoint", "KeyError")),
    # CLI values
    Case("sample-seed-beyond-64-bits", ("sample", "-n", "2", "--seed", str(2**70), "--out", "s.csv"), None, ("--seed must be 0 to 4294967295",)),
    Case("sample-n-zero", ("sample", "-n", "0", "--out", "s.csv"), None, ("-n",)),
    Case("sample-n-huge", ("sample", "-n", str(10**12), "--out", "s.csv"), None, ("-n",)),
    Case("sample-seq-len-huge", ("sample", "-n", "1", "--seq-len", str(10**9), "--out", "s.csv"), None, ("--seq-len",)),
    Case("sample-format-first", ("sample", "-n", "10000000", "--out", "s.xlsx"), None, ("s.xlsx", ".csv", ".parquet")),
    Case("sample-threads-zero", ("sample", "-n", "2", "--threads", "0", "--out", "s.csv"), None, ("--threads must be 1 to 1024 (got 0)",)),
    Case("evaluate-no-plots-needs-generator", ("evaluate", "--no-mlflow", "--no-plots", "--generator", "absent.pt"), None, ("absent.pt",)),
    # credentials
    Case("password-with-slash", ("models",), None, ("MLFLOW_TRACKING_URI",), absent=("pa/ss", "pa", "ss@"),
         env={"MLFLOW_TRACKING_URI": "http://user:pa/ss@127.0.0.1:9/"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_line(here, case):
    if case.setup is not None:
        case.setup(here)
    before = snapshot(here)
    if case.env:  # the environment is read at import time by some libraries: a process of its own
        result = subprocess.run([sys.executable, "-m", "rgan", *case.command], cwd=here, env={**cli_env(), **case.env},
                                capture_output=True, text=True)
        code, err = result.returncode, result.stderr
    else:
        code, err = run(*case.command, cwd=here)
    assert code == case.code, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("rgan ")]
    assert len(errors) == 1, err  # one line of error; notes may precede it
    for text in case.expect:
        assert text in err, err
    for text in case.absent:
        assert text not in errors[0], err
    assert snapshot(here) == before, "a failed command changed or left files"
    assert not (here / "PWNED").exists()


def test_omitted_sections_mean_the_shipped_defaults_with_a_note(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "partial.yaml").write_text("data:\n  seq_len: 12\n")
    code, err = run("params", "--params", "empty.yaml", cwd=tmp_path)
    assert code == 0 and "empty.yaml sets nothing: every setting is its documented default" in err
    assert load_params(tmp_path / "empty.yaml") == load_params(ROOT / "params.yaml") == Params()
    code, err = run("params", "--params", "partial.yaml", cwd=tmp_path)
    assert code == 0 and "no model, train, evaluate, mlflow, registry, tune, kubeflow sections: documented defaults used" in err
    assert load_params(tmp_path / "partial.yaml").train == Params().train


def test_day_first_dates_are_sorted_as_dates_with_a_note(tmp_path):
    days = pd.date_range("2024-01-25", periods=20, freq="D")
    frame = pd.DataFrame({"date": days.strftime("%d/%m/%Y"), "x": np.arange(20.0), "y": np.arange(20.0) ** 2})
    frame.sample(frac=1, random_state=1).to_csv(tmp_path / "d.csv", index=False)  # shuffled rows
    write_params(tmp_path / "params.yaml", {"data": {"path": "d.csv", "time_column": "date", "sequence_column": None, "seq_len": 2, "split": "time"}})
    code, err = run("prepare", "--out", "prep", cwd=tmp_path)
    assert code == 0, err
    assert "read as dates in the format %d/%m/%Y (inferred" in err
    series = np.load(tmp_path / "prep/series.npy")
    assert np.all(np.diff(series[:, 0]) > 0)  # x rises with the date: sorted by date, not by text

    # the same file with the format stated: no inference, the same order
    write_params(tmp_path / "params.yaml", {"data": {"path": "d.csv", "time_column": "date", "time_format": "%d/%m/%Y",
                                                     "sequence_column": None, "seq_len": 2, "split": "time"}})
    code, err = run("prepare", "--out", "prep2", cwd=tmp_path)
    assert code == 0 and "inferred" not in err
    assert np.array_equal(np.load(tmp_path / "prep2/series.npy"), series)


def test_short_sequences_are_dropped_with_a_note(tmp_path):
    rows = [(s, t, float(t + s), float(t * s)) for s, length in enumerate([10, 3, 10, 2, 10]) for t in range(length)]
    pd.DataFrame(rows, columns=["id", "t", "x", "y"]).to_csv(tmp_path / "d.csv", index=False)
    write_params(tmp_path / "params.yaml", {"data": {"path": "d.csv", "time_column": "t", "sequence_column": "id", "seq_len": 4, "split": "random"}})
    code, err = run("prepare", "--out", "prep", cwd=tmp_path)
    assert code == 0, err
    assert "2 of 5 sequences (5 rows) are shorter than data.seq_len = 4 and give no window: left out" in err


def test_rows_dropped_for_missing_values_are_counted(tmp_path):
    frame = pd.DataFrame({"t": range(30), "x": np.arange(30.0), "y": np.arange(30.0) % 7})
    frame.loc[[3, 9], "y"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False)
    write_params(tmp_path / "params.yaml", {"data": {"path": "d.csv", "time_column": "t", "sequence_column": None, "seq_len": 4, "missing": "drop"}})
    code, err = run("prepare", "--out", "prep", cwd=tmp_path)
    assert code == 0 and "2 of 30 rows dropped for missing values (data.missing: drop)" in err


@pytest.fixture
def tiny_disk(here):
    """A 160 KiB tmpfs at ./full: a real "No space left on device" for the outputs (needs root, as in CI)."""
    mount = here / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (root needed): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("command", [
    ("prepare", "--out", "full/prep"),
    ("train", "--no-mlflow", "--generator", "full/g.pt", "--checkpoints", "full/ckpt", "--log", "full/log.tsv", "--metrics", "full/m.json"),
    ("sample", "-n", "3000", "--out", "full/s.csv"),
    ("sample", "-n", "3000", "--out", "full/s.parquet"),
], ids=["prepare", "train", "sample-csv", "sample-parquet"])
def test_disk_full_is_one_line_and_leaves_nothing(here, tiny_disk, command):
    # fill most of the disk so even small outputs cannot be written whole
    (tiny_disk / "ballast").write_bytes(b"\0" * 100 * 1024)
    if command[0] == "train":
        write_params(here / "params.yaml", tiny(train={"steps": 200, "checkpoint_every": 1, "log_every": 1}))
    before = {k: v for k, v in snapshot(here).items() if not k.startswith("full")}
    code, err = run(*command, cwd=here)
    assert code == 1, err
    assert "No space left on device" in err and "Traceback" not in err and "inline_container" not in err, err
    left = sorted(p.name for p in tiny_disk.rglob("*") if p.is_file() and p.name not in ("ballast", *LOCKS))
    # a training keeps what --resume needs (its last whole checkpoint and log); no final output is written
    assert left == [] or command[0] == "train" and set(left) <= {"last.pt", "train_log.tsv", "train_log.live.tsv"}, left
    assert {k: v for k, v in snapshot(here).items() if not k.startswith("full")} == before


def test_second_training_on_the_same_outputs_refuses(here):
    write_params(here / "params.yaml", tiny(train={"steps": 100000, "checkpoint_every": 100000}))
    first = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-mlflow", "--no-progress"], cwd=here, env=cli_env(),
                             stderr=subprocess.PIPE, text=True)
    try:
        live = here / "models/checkpoints/train_log.live.tsv"
        deadline = time.time() + 120
        while time.time() < deadline and not live.exists():
            time.sleep(0.05)
        assert live.exists()
        before = snapshot(here / "models")
        code, err = run("train", "--no-mlflow", cwd=here)
        assert code == 1 and "another rgan train or log is writing to models/checkpoints" in err, err
        assert {k: v for k, v in snapshot(here / "models").items() if "live" not in k} == {k: v for k, v in before.items() if "live" not in k}
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM  # the first one was never disturbed: it stopped when told


def test_stale_temp_files_of_killed_runs_are_removed_and_live_ones_kept(here):
    ckpt = here / "models/checkpoints"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = [ckpt / f".last.{dead}.abc123.tmp.pt", here / "models" / f".generator.{dead}.x1.tmp.pt", ckpt / f".train_log.{dead}.q.tmp.tsv"]
    live = ckpt / f".last.{os.getpid()}.keep.tmp.pt"  # this process is alive: its file may be in use
    for path in (*stale, live):
        path.write_bytes(b"partial")
    code, err = run("train", "--no-mlflow", cwd=here)
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert live.exists()


def test_failed_run_keeps_the_previous_log_and_checkpoint_together(here):
    published = here / "models/checkpoints/train_log.tsv"
    log_before, ckpt_before = published.read_bytes(), (here / "models/checkpoints/last.pt").read_bytes()
    # a fresh run that fails before its first checkpoint (diverging is not reachable within bounds; a bad batch is)
    write_params(here / "params.yaml", tiny(train={"steps": 100000, "checkpoint_every": 100000}))
    proc = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-mlflow", "--no-progress"], cwd=here, env=cli_env(),
                            stderr=subprocess.PIPE, text=True)
    live = here / "models/checkpoints/train_log.live.tsv"
    deadline = time.time() + 120
    while time.time() < deadline and (not live.exists() or len(live.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.communicate(timeout=60)
    assert published.read_bytes() == log_before
    assert (here / "models/checkpoints/last.pt").read_bytes() == ckpt_before


@pytest.mark.slow
def test_sigkill_at_random_moments_always_leaves_a_resumable_checkpoint(workdir):
    """Checkpoint every step, SIGKILL at seeded random moments: every kill leaves a loadable checkpoint, and the
    run resumed after all of them ends byte-identical to an uninterrupted one."""
    steps = 400
    write_params(workdir / "params.yaml", tiny(train={"steps": steps, "log_every": 5, "checkpoint_every": 1}))
    ckpt = workdir / "models/checkpoints/last.pt"
    rng = np.random.default_rng(7)
    reached = []
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-mlflow", "--no-progress", "--resume"], cwd=workdir,
                                env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = ckpt.stat().st_mtime_ns if ckpt.exists() else 0
        deadline = time.time() + 120
        while time.time() < deadline and (not ckpt.exists() or ckpt.stat().st_mtime_ns == start):
            time.sleep(0.01)  # wait until this run has written a checkpoint of its own
        time.sleep(float(rng.uniform(0, 0.4)))
        proc.kill()
        proc.wait(timeout=60)
        step = torch.load(ckpt, weights_only=True)["step"]  # always loadable
        reached.append(step)
        if step >= steps:
            break
    assert reached == sorted(reached) and reached[0] > 0 and len(set(reached)) >= 3, reached
    print("killed at steps", reached)
    assert run("train", "--no-mlflow", "--resume", cwd=workdir)[0] == 0
    resumed = (workdir / "models/generator.pt").read_bytes()
    resumed_log = (workdir / "metrics/train_log.tsv").read_text().splitlines()
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    assert (workdir / "models/generator.pt").read_bytes() == resumed
    columns = resumed_log[0].split("\t")
    keep = [i for i, c in enumerate(columns) if c not in ("elapsed_s", "steps_per_s")]
    strip = lambda lines: [[line.split("\t")[i] for i in keep] for line in lines]  # noqa: E731
    assert strip((workdir / "metrics/train_log.tsv").read_text().splitlines()) == strip(resumed_log)
    assert not list((workdir / "models").rglob("*.tmp*"))

