"""Windows, splits and scaling against naive reference implementations."""

import numpy as np
import pytest

from rgan.config import DataConfig
from rgan.data.scaler import MinMaxScaler
from rgan.data.windows import covered_rows, gather_windows, split_windows, window_starts
from rgan.errors import RganError


def naive_starts(lengths, seq_len, stride):
    starts, offset = [], 0
    for length in lengths:
        t = 0
        while t + seq_len <= length:
            starts.append(offset + t)
            t += stride
        offset += length
    return np.array(starts, dtype=np.int64)


@pytest.mark.parametrize("lengths", [[100], [30, 5, 47, 24, 23], [24] * 10])
@pytest.mark.parametrize("seq_len, stride", [(24, 1), (5, 3), (2, 7)])
def test_window_starts_match_naive_loop(lengths, seq_len, stride):
    starts, _ = window_starts(np.array(lengths), seq_len, stride)
    np.testing.assert_array_equal(starts, naive_starts(lengths, seq_len, stride))


def test_gather_windows_match_slicing():
    series = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    starts = np.array([0, 7, 26])
    got = gather_windows(series, starts, 24)
    assert got.shape == (3, 24, 3)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(got[i], series[s : s + 24])


@pytest.mark.parametrize("lengths", [[1000], [400, 300, 350]])
@pytest.mark.parametrize("stride", [1, 4])
def test_time_split_puts_test_after_train_without_overlap(lengths, stride):
    cfg = DataConfig(seq_len=24, stride=stride, split="time", val_fraction=0.1, test_fraction=0.2)
    splits = split_windows(np.array(lengths), cfg)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for seq, offset in enumerate(offsets):
        end = offset + lengths[seq]

        def rows(idx):
            mine = idx[(idx >= offset) & (idx < end)]
            return set((mine[:, None] + np.arange(24)).ravel().tolist())

        train, val, test = rows(splits.train), rows(splits.val), rows(splits.test)
        assert train and test and val
        assert not (train & test) and not (train & val) and not (val & test)
        assert max(train) < min(val) <= max(val) < min(test)


def test_random_split_partitions_all_windows():
    cfg = DataConfig(seq_len=24, split="random", val_fraction=0.1, test_fraction=0.2)
    splits = split_windows(np.array([24] * 100), cfg)
    all_idx = np.concatenate([splits.train, splits.val, splits.test])
    np.testing.assert_array_equal(np.sort(all_idx), naive_starts([24] * 100, 24, 1))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (70, 10, 20)


def test_time_split_of_one_window_sequences_explains_itself():
    cfg = DataConfig(seq_len=24, split="time")
    with pytest.raises(RganError, match="data.split: random"):
        split_windows(np.array([24] * 100), cfg)


def test_series_shorter_than_seq_len():
    with pytest.raises(RganError, match="10 rows, shorter than data.seq_len = 24"):
        split_windows(np.array([10]), DataConfig(seq_len=24))


def test_covered_rows_matches_naive():
    starts = np.array([0, 3, 20])
    mask = covered_rows(starts, 5, 30)
    expected = np.zeros(30, bool)
    for s in starts:
        expected[s : s + 5] = True
    np.testing.assert_array_equal(mask, expected)


def test_scaler_matches_naive_minmax_and_round_trips(tmp_path):
    values = np.random.default_rng(1).normal(5, 3, size=(200, 4))
    scaler = MinMaxScaler.fit(values, ["a", "b", "c", "d"])
    scaled = scaler.transform(values)
    naive = (values - values.min(0)) / (values.max(0) - values.min(0))
    np.testing.assert_allclose(scaled, naive)
    assert scaled.min() == 0 and scaled.max() == 1
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values, rtol=1e-12)
    scaler.save(tmp_path / "scaler.json")
    assert MinMaxScaler.load(tmp_path / "scaler.json") == scaler


def test_scaler_constant_over_training_rows_does_not_divide_by_zero():
    scaler = MinMaxScaler.fit(np.array([[1.0, 2.0], [1.0, 3.0]]), ["a", "b"])
    out = scaler.transform(np.array([[1.0, 2.5], [2.0, 2.0]]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(scaler.inverse_transform(out), [[1.0, 2.5], [2.0, 2.0]])
