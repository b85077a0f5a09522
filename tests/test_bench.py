"""The bench scripts run and print their figures (at tiny sizes; the real figures come from running them by hand)."""

import subprocess
import sys

from conftest import ROOT, TINY, cli_env, write_params


def test_prepare_throughput_prints_rows_per_second_and_peak_memory():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/prepare_throughput.py"), "--rows", "5000", "--columns", "3"],
        env=cli_env(), capture_output=True, text=True, check=True,
    ).stdout
    assert "rows/s" in out and "peak memory" in out


def test_train_speed_prints_steps_per_second(tmp_path):
    params = write_params(tmp_path / "params.yaml", TINY)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/train_speed.py"), "--params", str(params), "--steps", "5"],
        env=cli_env(), capture_output=True, text=True, check=True,
    ).stdout
    assert "steps/s" in out


def test_timegan_benchmark_smoke_run_writes_the_table(tmp_path):
    """Every kind through the whole script on tiny sines (the real run: by hand, hours); Stocks skipped with a
    message when its CSV is missing."""
    out = tmp_path / "table.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench/timegan_benchmark.py"), "--smoke", "--budget-min", "0.15", "--datasets", "sines", "stocks",
         "--stocks", str(tmp_path / "no-such.csv"), "--out", str(out)], env=cli_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for kind in ("rgan", "timegan", "vaegan"):
        assert f"| Sines | {kind} (ours, 1 repeats) |" in text
    assert "| Sines | TimeGAN (paper) | .011 ± .008 | .093 ± .019 |" in text and "NeurIPS 2019" in text
    assert "Skipped: stocks:" in text and "no-such.csv not found" in proc.stderr
