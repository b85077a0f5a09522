"""The prepare stage on user tables, and every kind of bad input the issue lists."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run, write_params

from rgan.data.prepare import load_prepared
from rgan.data.windows import gather_windows


def user_table(rows=300, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    return pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=rows, freq="h").astype(str),
            "load": 100 + 10 * np.sin(t / 10) + rng.normal(0, 1, rows),
            "temp": 20 + 5 * np.cos(t / 24) + rng.normal(0, 0.5, rows),
            "note": ["ok"] * rows,  # text column: ignored when columns is null
        }
    )


def prepare_user_data(tmp_path, frame, name="data.csv", **data):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif frame is not None:
        frame.to_csv(path, index=False)
    cfg = {"path": name, "time_column": "time", "sequence_column": None, "seq_len": 24, "split": "time", **data}
    write_params(tmp_path / "params.yaml", {"data": cfg})
    return run("prepare", "--out", "prepared", cwd=tmp_path)


@pytest.mark.parametrize("name", ["data.csv", "data.parquet"])
def test_prepare_user_table(tmp_path, name):
    frame = user_table()
    shuffled = frame.sample(frac=1, random_state=0)  # rows out of order: time_column sorts them
    code, err = prepare_user_data(tmp_path, shuffled, name)
    assert code == 0, err
    prepared = load_prepared(tmp_path / "prepared")
    assert prepared.columns == ["load", "temp"]
    stats = json.loads((tmp_path / "prepared" / "stats.json").read_text())
    assert stats["windows"]["train"] > 0 and stats["windows"]["test"] > 0
    # scaler fitted on the rows of training windows only
    train_rows = max(prepared.starts["train"]) + 24
    raw = frame[["load", "temp"]].to_numpy()
    np.testing.assert_allclose(prepared.scaler.data_min, raw[:train_rows].min(0))
    np.testing.assert_allclose(prepared.scaler.data_max, raw[:train_rows].max(0))
    # windows are the sorted, scaled rows
    first = gather_windows(prepared.series, prepared.starts["test"][:1], 24)[0]
    expected = prepared.scaler.transform(raw[prepared.starts["test"][0] : prepared.starts["test"][0] + 24])
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)


def test_non_numeric_columns_left_out_are_reported(tmp_path):
    code, err = prepare_user_data(tmp_path, _text_in_column())  # columns: null
    assert code == 0, err
    assert "non-numeric columns left out: load, note" in err
    assert load_prepared(tmp_path / "prepared").columns == ["temp"]


def test_missing_values_drop_and_ffill(tmp_path):
    frame = user_table()
    frame.loc[[0, 50, 51], "load"] = np.nan
    code, err = prepare_user_data(tmp_path, frame, missing="drop")
    assert code == 0, err
    stats = json.loads((tmp_path / "prepared" / "stats.json").read_text())
    assert stats["rows"] == 297 and stats["rows_dropped_missing"] == 3
    code, err = prepare_user_data(tmp_path, frame, missing="ffill")
    assert code == 0, err
    stats = json.loads((tmp_path / "prepared" / "stats.json").read_text())
    assert stats["rows"] == 299  # the leading gap has nothing to fill from


def _text_in_column():
    frame = user_table()
    frame["load"] = frame["load"].astype(object)
    frame.loc[41, "load"] = "n/a?"
    return frame


def _constant():
    frame = user_table()
    frame["temp"] = 3.0
    return frame


def _nan():
    frame = user_table()
    frame.loc[7, "temp"] = np.nan
    return frame


@pytest.mark.parametrize(
    "frame, data, expected",
    [
        (None, {}, "data file not found: data.csv"),
        (_nan(), {}, "column 'temp' has 1 missing values (first at row 8)"),
        (_text_in_column(), {"columns": ["load", "temp"]}, "column 'load' is not numeric: row 42 holds 'n/a?'"),
        (_constant(), {}, "column 'temp' is constant"),
        (user_table(rows=20), {}, "data file data.csv has 20 rows, fewer than data.seq_len = 24"),
        (user_table(), {"columns": ["load", "pressure"]}, "data.columns names columns that data.csv lacks: pressure"),
        (user_table(), {"time_column": "when"}, "data.time_column 'when' is not a column"),
        (user_table().iloc[:0], {}, "has a header but no rows"),
        (user_table(rows=40), {}, "the val and test splits are empty"),
    ],
    ids=["missing-file", "nan", "text", "constant", "too-short", "unknown-column", "unknown-time", "header-only", "empty-split"],
)
def test_bad_data_is_a_clear_error_with_no_partial_output(tmp_path, frame, data, expected):
    code, err = prepare_user_data(tmp_path, frame, **data)
    assert code != 0
    assert expected in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "prepared").exists()
    assert not any(p.name.startswith(".prepared") for p in tmp_path.iterdir()), "temp output left behind"


def test_empty_file(tmp_path):
    (tmp_path / "data.csv").write_text("")
    code, err = prepare_user_data(tmp_path, None)
    assert code != 0 and "data file data.csv is empty" in err


def test_failed_prepare_keeps_previous_output(tmp_path):
    assert prepare_user_data(tmp_path, user_table())[0] == 0
    before = (tmp_path / "prepared" / "series.npy").read_bytes()
    code, _ = prepare_user_data(tmp_path, _nan())
    assert code != 0
    assert (tmp_path / "prepared" / "series.npy").read_bytes() == before
