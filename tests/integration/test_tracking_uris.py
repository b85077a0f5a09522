"""Bad or missing tracking stores through the real commands: one line without the password, nothing created by reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY, run, write_params

from rgan.errors import RganError

BAD_URIS = [
    ("http://user:pa/ss@127.0.0.1:5000", ("pa/ss", "ss@", "user:", ":pa")),
    ("http://alice:s3?cr3t@127.0.0.1:5000", ("s3", "cr3t", "alice")),
    ("http://alice:s3#cr3t@127.0.0.1:5000", ("s3", "cr3t", "alice")),
    ("http://alice:12/s3cr3t@127.0.0.1:5000", ("s3cr3t", "alice", ":12")),  # parses as host 'alice', port 12
    ("https://alice:s3/cr3t@mlflow.example.com", ("s3", "cr3t", "alice")),
    ("http://alice:s3cr3t", ("s3cr3t", "alice")),  # no host
    ("http://alice:s3cr3t@", ("s3cr3t", "alice")),  # no host
    ("http://127.0.0.1:port", ()),
    ("http://[::1:5000", ()),
]


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write_params(tmp_path / "params.yaml", TINY)
    return tmp_path


@pytest.mark.parametrize(("uri", "secrets"), BAD_URIS, ids=[u for u, _ in BAD_URIS])
def test_a_bad_tracking_uri_is_one_line_without_the_password(here, monkeypatch, uri, secrets):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, err = run("models", cwd=here)
    assert code == 1, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("rgan ")]
    assert len(errors) == 1, err
    assert "MLFLOW_TRACKING_URI" in errors[0] and "percent-encode" in errors[0] and "%2F" in errors[0], err
    for secret in secrets:
        assert secret not in err, err
    assert sorted(p.name for p in here.iterdir()) == ["params.yaml"]


def test_reading_a_missing_sqlite_store_creates_nothing(here, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    cases = {
        f"sqlite:///{elsewhere}/missing/dir/mlflow.db": elsewhere / "missing",  # absolute: sqlite:////tmp/...
        f"sqlite:///{elsewhere}/mlflow.db": elsewhere / "mlflow.db",  # the directory exists, the file does not
        "sqlite:///missing/mlflow.db": here / "missing",  # relative to the working directory
    }
    for uri, absent in cases.items():
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        code, err = run("models", cwd=here)
        assert code == 1, err
        assert "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("rgan ")]
        assert len(errors) == 1 and "no MLflow store exists at" in errors[0], err
        assert not absent.exists(), uri
    assert sorted(p.name for p in here.iterdir()) == ["params.yaml"]
    assert list(elsewhere.iterdir()) == []


def test_tracking_failures_become_one_redacted_line_and_bugs_stay_bugs(monkeypatch, tmp_path):
    import requests
    from conftest import free_port
    from mlflow import MlflowClient

    from rgan.tracking.connection.failures import tracking_errors

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'edge.db'}")
    with pytest.raises(RganError, match=r"^looking up failed at sqlite:///.*edge\.db: Run with id=nope not found$"):
        with tracking_errors("looking up"):
            MlflowClient(f"sqlite:///{tmp_path / 'edge.db'}").get_run("nope")  # a real MlflowException

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:s3cret@127.0.0.1:1")
    with pytest.raises(RganError) as caught:
        with tracking_errors("uploading"):
            requests.get(f"http://alice:s3cret@127.0.0.1:{free_port()}/x", timeout=5)  # a real requests error (an OSError too)
    assert str(caught.value).startswith("uploading failed at http://***@127.0.0.1:1: ") and "s3cret" not in str(caught.value)

    with pytest.raises(ZeroDivisionError):  # a bug keeps its type and traceback
        with tracking_errors("anything"):
            1 / 0
