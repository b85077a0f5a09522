"""MLflow when things go wrong, for real: a dead server, a server that dies during training, an interrupted
training resumed into its run; and serving the registered model over HTTP with `mlflow models serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest
from conftest import MlflowServer, cli_env, free_port, run, tiny, write_params
from mlflow import MlflowClient

PENDING = "models/checkpoints/mlflow_run.json"


def rgan(*args, cwd, uri, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgan", *args], cwd=cwd, env={**cli_env(), "MLFLOW_TRACKING_URI": uri},
                          capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize(
    "command",
    [["train"], ["evaluate"], ["register"], ["models"], ["promote", "--rollback"], ["sample", "--model", "models:/x@champion", "-n", "2", "--out", "s.csv"]],
    ids=lambda c: c[0],
)
def test_unreachable_server_is_a_clear_error_and_no_output(workdir, command):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = rgan(*command, cwd=workdir, uri=uri, timeout=120)  # a hang guard, not a speed check
    print(f"{command[0]}: failed after {time.monotonic() - started:.1f} s")
    assert result.returncode == 1
    assert f"MLflow tracking server {uri} is unreachable" in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "models").exists() and not (workdir / "s.csv").exists()


def test_credentials_in_the_uri_stay_out_of_messages_and_files(workdir):
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}"
    result = rgan("train", cwd=workdir, uri=uri, timeout=120)
    assert result.returncode == 1 and "s3cret" not in result.stderr and "alice" not in result.stderr


@pytest.mark.slow
def test_server_lost_during_training_keeps_outputs_and_rgan_log_recovers(workdir, tmp_path, monkeypatch):
    server = MlflowServer(tmp_path / "server")
    (tmp_path / "server").mkdir()
    server.start()
    try:
        write_params(workdir / "params.yaml", tiny(train={"steps": 1500, "log_every": 10, "checkpoint_every": 500}))
        proc = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-progress"], cwd=workdir,
                                env={**cli_env(), "MLFLOW_TRACKING_URI": server.uri}, stderr=subprocess.PIPE, text=True)
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("MLflow run "):
                break
        server.stop()  # the run exists; everything after this point cannot be logged
        err = "".join(lines) + proc.communicate(timeout=600)[1]
        assert proc.returncode == 1, err
        assert "training finished and its outputs are saved" in err and "`rgan log`" in err and "Traceback" not in err
        for path in ("models/generator.pt", "models/checkpoints/last.pt", "metrics/train_log.tsv", "metrics/train.json"):
            assert (workdir / path).is_file(), path
        assert not (workdir / "models/mlflow_run.json").exists()  # no run file for a run without its model
        pending = json.loads((workdir / PENDING).read_text())

        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        code, err = run("log", cwd=workdir)  # the server still down: a clear error, files untouched
        assert code == 1 and "unreachable" in err

        server.start()  # back, same database
        code, err = run("log", cwd=workdir)
        assert code == 0, err
        record = json.loads((workdir / "models/mlflow_run.json").read_text())
        assert record["run_id"] == pending["run_id"] and record["model_uri"]
        client = MlflowClient(server.uri)
        steps = [m.step for m in client.get_metric_history(record["run_id"], "train/d_loss")]
        assert steps == list(range(10, 1501, 10))  # complete, each step once
        assert client.get_run(record["run_id"]).info.status == "FINISHED"
        assert client.get_logged_model(record["model_id"]).source_run_id == record["run_id"]
    finally:
        server.stop()


@pytest.mark.slow
def test_interrupted_training_resumes_into_the_same_run(workdir):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    write_params(workdir / "params.yaml", tiny(train={"steps": 3000, "log_every": 10, "checkpoint_every": 1000}))
    proc = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-progress"], cwd=workdir, env=cli_env(), stderr=subprocess.PIPE, text=True)
    live_log = workdir / "models/checkpoints/train_log.live.tsv"
    deadline = time.time() + 300
    while time.time() < deadline and (not live_log.exists() or len(live_log.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    run_id = json.loads((workdir / PENDING).read_text())["run_id"]
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "KILLED"

    code, err = run("train", "--resume", cwd=workdir)
    assert code == 0, err
    record = json.loads((workdir / "models/mlflow_run.json").read_text())
    assert record["run_id"] == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run_id, "train/g_loss")]
    assert steps == list(range(10, 3001, 10))  # nothing missing, nothing twice, after the resume


@pytest.mark.slow
def test_mlflow_models_serve_answers_in_original_units(workdir, monkeypatch, tmp_path):
    uri = f"sqlite:///{tmp_path / 'serve.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    write_params(workdir / "params.yaml", tiny(registry={"model_name": "served"}))
    for command in (["train"], ["evaluate"], ["register"]):
        code, err = run(*command, cwd=workdir)
        assert code == 0, err
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/served@champion", "--env-manager", "local",
         "--host", "127.0.0.1", "-p", str(port)],
        cwd=tmp_path, env={**cli_env(), "MLFLOW_TRACKING_URI": uri}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "the scoring server did not start"
                time.sleep(0.5)

        def invoke(body: dict) -> pd.DataFrame:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return pd.DataFrame(json.loads(response.read())["predictions"])

        served = invoke({"dataframe_split": {"columns": ["n", "seed"], "data": [[4, 5]]}})
        assert run("sample", "-n", "4", "--seed", "5", "--out", "expected.csv", cwd=workdir)[0] == 0
        expected = pd.read_csv(workdir / "expected.csv")
        assert list(served.columns) == list(expected.columns) == ["sequence_id", "step", "feature_0", "feature_1", "feature_2"]
        pd.testing.assert_frame_equal(served, expected, check_dtype=False)
        raw = pd.read_parquet(workdir / "data/raw/sines.parquet")
        assert served["feature_0"].between(raw["feature_0"].min() - 0.5, raw["feature_0"].max() + 0.5).all()

        longer = invoke({"inputs": {"n": [2]}, "params": {"seed": 5, "seq_len": 40}})
        assert len(longer) == 2 * 40 and longer["step"].max() == 39
        with pytest.raises(urllib.error.HTTPError) as bad:
            invoke({"inputs": {"n": [0]}})
        assert bad.value.code == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
