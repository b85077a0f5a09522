"""`rgan sample` streams: chunk by chunk into one file, the same bytes as the old whole-frame write, bounded
inputs checked before any work, and nothing left behind when it fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from conftest import run

import rgan.sampling as sampling
from rgan.sampling import load_generator, sample_to_file


@pytest.fixture
def generator(trained):
    return trained / "models/generator.pt"


def old_frame(generator, n: int, seed: int, seq_len: int | None = None, chunk: int = 4096) -> pd.DataFrame:
    """What `rgan sample` wrote before streaming: the whole sample at once (the code as it was)."""
    loaded = load_generator(generator)
    seq_len = seq_len or loaded.seq_len
    rng = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for begin in range(0, n, chunk):
            z = loaded.network.noise(min(chunk, n - begin), seq_len, generator=rng)
            out.append(loaded.network(z).cpu().numpy())
    windows = loaded.scaler.inverse_transform(np.concatenate(out).astype(np.float64))
    frame = pd.DataFrame(windows.reshape(n * seq_len, -1), columns=loaded.columns)
    frame.insert(0, "step", np.tile(np.arange(seq_len), n))
    frame.insert(0, "sequence_id", np.repeat(np.arange(n), seq_len))
    return frame


def old_csv(tmp_path, *args, **kwargs) -> bytes:
    path = tmp_path / "old.csv"
    old_frame(*args, **kwargs).to_csv(path, index=False)
    return path.read_bytes()


@pytest.mark.parametrize("seq_len", [None, 5])
def test_csv_is_byte_identical_to_the_whole_frame_write_across_chunks(generator, tmp_path, monkeypatch, seq_len):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 7)
    sample_to_file(generator, 30, 3, tmp_path / "s.csv", seq_len=seq_len)  # 5 chunks, the last one short
    assert (tmp_path / "s.csv").read_bytes() == old_csv(tmp_path, generator, 30, 3, seq_len, chunk=7)


def test_csv_at_the_real_chunk_size(generator, tmp_path):
    assert sampling.SAMPLE_CHUNK == 4096  # part of what a seed means
    sample_to_file(generator, 4100, 11, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes() == old_csv(tmp_path, generator, 4100, 11)


def test_csv_rows_arrow_prints_otherwise_are_printed_as_pandas_does(generator, tmp_path, monkeypatch):
    """Tiny, huge, whole and missing values in the same chunks as ordinary ones: Arrow writes the chunk, Python
    rewrites the rows Arrow would print otherwise, and the file equals pandas' byte for byte."""
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 4)
    special = [0.0, -0.0, 1.0, 250.0, 5e-5, -3e-7, 1e10, 3.5e12, 2.5e16, float("nan"), float("inf")]
    real_inverse = sampling.MinMaxScaler.inverse_transform

    def with_specials(self, scaled):
        # value by value (chunks and the whole sample agree): a thin band of outputs becomes each special value
        values = real_inverse(self, scaled)
        band = np.floor(scaled * 1000).astype(int) % 60
        for i, value in enumerate(special):
            values = np.where(band == i, value, values)
        return values

    monkeypatch.setattr(sampling.MinMaxScaler, "inverse_transform", with_specials)
    fast = []
    real_fast = sampling._CsvChunkWriter._fast_bytes
    monkeypatch.setattr(sampling._CsvChunkWriter, "_fast_bytes", lambda self, w, i: fast.append(i) or real_fast(self, w, i))
    sample_to_file(generator, 25, 5, tmp_path / "s.csv")
    assert len(fast) >= 3  # the probe, then Arrow for the chunks
    expected = old_frame(generator, 25, 5, chunk=4)  # inverse_transform is patched: the specials are in both
    assert expected.isna().any().any() and (expected.iloc[:, 2:] == 0).any().any()
    path = tmp_path / "old.csv"
    expected.to_csv(path, index=False)
    assert (tmp_path / "s.csv").read_bytes() == path.read_bytes()


def test_csv_falls_back_to_pandas_when_arrow_prints_differently(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 4)
    monkeypatch.setattr(sampling._CsvChunkWriter, "_fast_bytes", lambda self, windows, first_id: b"wrong\n")
    sample_to_file(generator, 10, 5, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes() == old_csv(tmp_path, generator, 10, 5, chunk=4)


def test_arrow_prints_the_values_it_is_trusted_with_like_pandas():
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rng = np.random.default_rng(0)
    values = np.concatenate([
        10.0 ** rng.uniform(-5, 11, 100_000) * rng.choice([-1, 1], 100_000),
        rng.random(50_000).astype(np.float32).astype(np.float64) * 3.7 + 0.5,
        np.nextafter(10.0 ** np.arange(-4, 11), np.inf), np.nextafter(10.0 ** np.arange(-4, 11), -np.inf),
        [0.1, 1 / 3, 2.5, 9999999999.5, 123456789.00000001],
    ])
    trusted = values[sampling._arrow_csv_mask(values)]
    assert len(trusted) > 100_000
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table({"v": trusted}), sink, write_options=pa_csv.WriteOptions(include_header=False))
    assert sink.getvalue().to_pybytes() == pd.DataFrame({"v": trusted}).to_csv(index=False, header=False).encode()
    assert not sampling._arrow_csv_mask(np.array([0.0, -0.0, 1.0, 250.0, 5e-5, 1e10, 3.5e12, np.nan, np.inf])).any()
    # those are printed by Python as pandas prints them
    frame = pd.DataFrame({"sequence_id": [3], "step": [1], "a": [5e-5], "b": [np.nan], "c": [250.0], "d": [2.5e16]})
    assert sampling._python_csv_line(3, 1, [5e-5, np.nan, 250.0, 2.5e16]) + b"\n" == frame.to_csv(index=False, header=False).encode()


def test_parquet_content_equals_the_whole_frame_and_ids_continue(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 7)
    monkeypatch.setattr(sampling, "ROW_GROUP_BYTES", 3000)  # a few chunks per row group
    for name in ("s.parquet", "s.pq"):
        sample_to_file(generator, 40, 9, tmp_path / name, seq_len=6)
        frame = pd.read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(frame, old_frame(generator, 40, 9, 6, chunk=7))
        assert pq.ParquetFile(tmp_path / name).metadata.num_row_groups > 1
        assert frame["sequence_id"].tolist() == np.repeat(np.arange(40), 6).tolist()
        assert frame["step"].tolist() == np.tile(np.arange(6), 40).tolist()


def test_sequence_ids_continue_across_csv_chunks(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 3)
    sample_to_file(generator, 20, 1, tmp_path / "s.csv", seq_len=4)
    frame = pd.read_csv(tmp_path / "s.csv")
    assert frame["sequence_id"].tolist() == np.repeat(np.arange(20), 4).tolist()
    assert frame["step"].tolist() == np.tile(np.arange(4), 20).tolist()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_are_written_as_they_are_produced(generator, tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 5)
    monkeypatch.setattr(sampling, "ROW_GROUP_BYTES", 1)
    original, sizes = sampling.LoadedGenerator.iter_samples, []

    def watched(self, *args, **kwargs):
        for chunk in original(self, *args, **kwargs):
            sizes.append(sum(p.stat().st_size for p in tmp_path.iterdir()))
            yield chunk

    monkeypatch.setattr(sampling.LoadedGenerator, "iter_samples", watched)
    sample_to_file(generator, 200, 0, tmp_path / f"s{suffix}")  # 40 chunks of 5 x 24 rows
    assert len(sizes) == 40 and sizes[-1] > sizes[10] > sizes[1] > 0  # the temporary file grew while generating


def test_chunks_shrink_only_for_very_long_sequences(generator, monkeypatch):
    loaded = load_generator(generator)
    assert loaded.chunk_size(24) == 4096 and loaded.chunk_size(100) == 4096
    assert loaded.chunk_size(1_000_000) == 1
    long = loaded.chunk_size(100_000)
    assert 1 <= long < 4096 and long * 100_000 * loaded._step_width() <= sampling.ELEMENT_BUDGET
    monkeypatch.setattr(sampling, "ELEMENT_BUDGET", 3 * 50 * loaded._step_width())  # seq_len 50: 3 a chunk
    assert [len(c) for c in loaded.iter_scaled(7, 0, seq_len=50)] == [3, 3, 1]
    assert [len(c) for c in loaded.iter_scaled(7, 0, seq_len=10)] == [7]


@pytest.mark.parametrize(
    "args, option",
    [
        (["-n", "0", "--out", "x.csv"], "-n"),
        (["-n", "-5", "--out", "x.csv"], "-n"),
        (["-n", "1000000001", "--out", "x.parquet"], "-n"),
        (["-n", "5", "--seq-len", "0", "--out", "x.csv"], "--seq-len"),
        (["-n", "5", "--seq-len", "1000001", "--out", "x.csv"], "--seq-len"),
        (["-n", "5", "--out", "x.json"], "--out"),
        (["-n", "5", "--out", "x"], "--out"),
        (["-n", "5", "--out", "x.csv.gz"], "--out"),
    ],
)
def test_bad_arguments_fail_in_one_line_before_any_work(trained, args, option):
    # a generator file that does not exist: the argument is refused before the generator is loaded
    code, err = run("sample", "--generator", "no-such-generator.pt", *args, cwd=trained)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err and f"error: {option}" in err, err
    if option == "-n":
        assert "at least 1 and at most 1000000000" in err
    elif option == "--seq-len":
        assert f"at least 1 and at most {sampling.MAX_SEQ_LEN} (got" in err
    else:
        assert "allowed: .csv, .parquet, .pq" in err
    assert not any(p.name.startswith(("x", ".x")) for p in trained.iterdir())


def test_largest_bounds_are_accepted(trained, monkeypatch):
    seen = {}

    def fake_load(path, device="cpu"):
        seen["loaded"] = True
        raise sampling.RganError("stop here")

    monkeypatch.setattr(sampling, "load_generator", fake_load)
    code, err = run("sample", "-n", str(sampling.MAX_N), "--seq-len", str(sampling.MAX_SEQ_LEN), "--out", "x.csv", cwd=trained)
    assert code == 1 and "stop here" in err and seen


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_stream_leaves_nothing(generator, tmp_path, monkeypatch, suffix, failure):
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK", 5)
    monkeypatch.setattr(sampling, "ROW_GROUP_BYTES", 1)
    original = sampling.LoadedGenerator.iter_samples

    def failing(self, *args, **kwargs):
        for i, chunk in enumerate(original(self, *args, **kwargs)):
            if i == 3:
                raise failure("mid-stream")
            yield chunk

    monkeypatch.setattr(sampling.LoadedGenerator, "iter_samples", failing)
    out = tmp_path / "out" / f"s{suffix}"
    out.parent.mkdir()
    with pytest.raises(failure):
        sample_to_file(generator, 50, 0, out)
    assert list(out.parent.iterdir()) == []

    out.write_bytes(b"earlier output")  # an earlier file survives a failed run untouched
    with pytest.raises(failure):
        sample_to_file(generator, 50, 0, out)
    assert list(out.parent.iterdir()) == [out] and out.read_bytes() == b"earlier output"


def test_sample_and_sample_scaled_keep_their_values(generator):
    loaded = load_generator(generator)
    expected = old_frame(generator, 4100, 2, 10)
    values = expected[loaded.columns].to_numpy().reshape(4100, 10, -1)
    assert np.array_equal(loaded.sample(4100, 2, 10), values)
    assert np.array_equal(loaded.scaler.inverse_transform(loaded.sample_scaled(4100, 2, 10).astype(np.float64)), values)
    assert loaded.sample_scaled(0, 2).shape == (0, 24, 3)
