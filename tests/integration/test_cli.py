import subprocess
import sys

from conftest import run_subprocess

PROBE = """
import sys
sys.argv = ["rgan", "--help"]
from rgan.cli import main
try:
    main()
except SystemExit:
    pass
print("HEAVY:" + ",".join(m for m in ("torch", "pandas", "sklearn", "matplotlib", "pydantic", "mlflow", "dvc_data", "kfp") if m in sys.modules))
"""


def test_help_imports_no_heavy_modules():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert "HEAVY:\n" in out, out


def test_console_script_help_and_version(tmp_path):
    result = run_subprocess("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("make-sines", "prepare", "train", "log", "evaluate", "register", "promote", "models", "sample", "params"):
        assert command in result.stdout
    assert run_subprocess("--version", cwd=tmp_path).stdout.startswith("rgan ")


def test_error_exit_code_and_message_without_traceback(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  loss: hinge\n")
    result = run_subprocess("train", cwd=tmp_path)
    assert result.returncode == 1
    assert "train.loss" in result.stderr and "'bce' or 'wgan-gp'" in result.stderr
    assert "Traceback" not in result.stderr
