import numpy as np
import pandas as pd
import pytest
from conftest import run

from rgan.data.prepare import load_prepared


def test_sample_csv_long_format_in_original_units(trained):
    code, err = run("sample", "--generator", "models/generator.pt", "-n", "50", "--seed", "7", "--out", "s.csv", cwd=trained)
    assert code == 0, err
    frame = pd.read_csv(trained / "s.csv")
    assert list(frame.columns) == ["sequence_id", "step", "feature_0", "feature_1", "feature_2"]
    assert len(frame) == 50 * 24
    assert frame.groupby("sequence_id")["step"].apply(list).map(lambda s: s == list(range(24))).all()
    # a sigmoid output inverse-scaled lies inside the training data's [min, max] per column
    scaler = load_prepared(trained / "data/prepared").scaler
    values = frame[scaler.columns].to_numpy()
    assert (values >= np.array(scaler.data_min) - 1e-9).all() and (values <= np.array(scaler.data_max) + 1e-9).all()


def test_same_seed_same_file_other_seed_other_file(trained):
    for name, seed in (("a.csv", "7"), ("b.csv", "7"), ("c.csv", "8")):
        assert run("sample", "-n", "20", "--seed", seed, "--out", name, cwd=trained)[0] == 0
    a, b, c = ((trained / n).read_bytes() for n in ("a.csv", "b.csv", "c.csv"))
    assert a == b and a != c


def test_parquet_and_other_lengths(trained):
    assert run("sample", "-n", "3", "--seq-len", "60", "--out", "s.parquet", cwd=trained)[0] == 0
    frame = pd.read_parquet(trained / "s.parquet")
    assert len(frame) == 180 and frame["step"].max() == 59


@pytest.mark.parametrize(
    "args, expected",
    [
        (["-n", "0", "--out", "x.csv"], "-n must be at least 1"),
        (["-n", "5", "--out", "x.json"], "unsupported format '.json'"),
        (["--generator", "missing.pt", "-n", "5", "--out", "x.csv"], "file not found: missing.pt"),
        (["--generator", "models/checkpoints/last.pt", "-n", "5", "--out", "x.csv"], "is not an rgan-generator file"),
        (["--generator", "damaged.pt", "-n", "5", "--out", "x.csv"], "damaged generator file"),
        (["-n", "5", "--out", "x.csv", "--device", "tpu"], "allowed: auto, cpu, cuda or cuda:N"),
    ],
)
def test_sample_errors(trained, args, expected):
    import torch

    torch.save({"format": "rgan-generator/1", "model": {"cell": "lstm"}}, trained / "damaged.pt")
    code, err = run("sample", *args, cwd=trained)
    assert code != 0 and expected in err
    assert not (trained / "x.csv").exists()
