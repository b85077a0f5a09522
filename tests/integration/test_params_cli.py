"""`rgan params` and bad params through the real command: one line, exit code, no work done."""

import yaml
from conftest import ROOT, run, run_subprocess, write_params

from rgan.config import load_params, parse_params


def test_cli_stops_before_any_work_on_bad_params(tmp_path):
    write_params(tmp_path / "params.yaml", {"model": {"cell": "lstmm"}})
    code, err = run("make-sines", "--out", "raw.parquet", cwd=tmp_path)
    assert code != 0
    assert "model.cell" in err and "Traceback" not in err
    assert not (tmp_path / "raw.parquet").exists()


def test_missing_params_file(tmp_path):
    code, err = run("params", "--params", "nope.yaml", cwd=tmp_path)
    assert code != 0 and "params file not found: nope.yaml" in err


def test_cli_params_kind_prints_that_kinds_settings(tmp_path):
    result = run_subprocess("params", "--params", str(ROOT / "params.yaml"), "--kind", "vaegan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = parse_params(yaml.safe_load(result.stdout))
    assert printed == load_params(ROOT / "params.yaml").for_kind("vaegan")
    assert "z_dim" not in result.stdout and "latent_dim: null" in result.stdout

