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
