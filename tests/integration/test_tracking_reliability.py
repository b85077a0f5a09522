"""MLflow when things go wrong, for real: a dead server, a server that dies during training, an interrupted
training resumed into its run; and serving the registered model over HTTP with `mlflow models serve`."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import MlflowServer, cli_env, entities_csv, free_port, run, tiny, write_params
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
    before = {path: path.stat().st_mtime_ns for path in workdir.rglob("*") if path.is_file()}
    result = rgan("train", cwd=workdir, uri=uri, timeout=120)
    assert result.returncode == 1 and "s3cret" not in result.stderr and "alice" not in result.stderr
    assert "http://***@127.0.0.1" in result.stderr  # the message still says which server
    # and in files: none written or changed by the failed run, and no file in the project holds the credentials
    after = {path: path.stat().st_mtime_ns for path in workdir.rglob("*") if path.is_file()}
    assert after == before
    assert not [path for path in after if b"s3cret" in path.read_bytes() or b"alice" in path.read_bytes()]


class Gateway:
    """What often stands in front of a real MLflow server: a reverse proxy that ends TLS (a self-signed
    certificate for 127.0.0.1) and asks for Basic auth, forwarding every request to `upstream`."""

    def __init__(self, upstream: str, tls_dir: Path | None = None, user: str | None = None, password: str | None = None):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.expected = None if user is None else "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.cert = None
        if tls_dir is not None:
            self.cert, key = self_signed_certificate(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.uri = f"{'https' if tls_dir else 'http'}://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self):
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                if gateway.expected is not None and self.headers.get("Authorization") != gateway.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                    self.send_header("Content-Length", "12")
                    self.end_headers()
                    self.wfile.write(b"Unauthorized")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization", "connection")}
                upstream = http.client.HTTPConnection(gateway.upstream.hostname, gateway.upstream.port, timeout=60)
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> "Gateway":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def one_error_line(code: int, err: str) -> str:
    assert code == 1 and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("rgan ")]
    assert len(errors) == 1, err
    return errors[0]


REACHED = "no registered model 'nobody' yet"  # the server answered a registry query: the connection works


@pytest.fixture
def nobody(tmp_path) -> Path:
    write_params(tmp_path / "params.yaml", tiny(registry={"model_name": "nobody"}))
    return tmp_path


def test_tls_server_needs_a_trusted_certificate_or_insecure_tls(mlflow_server, nobody, tmp_path, monkeypatch):
    for variable in ("MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    with Gateway(mlflow_server.uri, tls_dir=tmp_path / "tls") as gateway:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", gateway.uri)
        started = time.monotonic()
        line = one_error_line(*run("models", cwd=nobody))
        assert f"MLflow tracking server {gateway.uri} failed the TLS handshake" in line and "certificate verify failed" in line
        assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in line and "MLFLOW_TRACKING_INSECURE_TLS" in line
        assert time.monotonic() - started < 60

        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(gateway.cert))
        assert REACHED in one_error_line(*run("models", cwd=nobody))

        monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
        monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
        assert REACHED in one_error_line(*run("models", cwd=nobody))


def test_basic_auth_credentials_reach_the_server_and_bad_ones_are_a_clear_line(mlflow_server, nobody, monkeypatch):
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    with Gateway(mlflow_server.uri, user="alice", password="s3cret") as gateway:
        address = gateway.uri.removeprefix("http://")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", gateway.uri)
        line = one_error_line(*run("models", cwd=nobody))  # no credentials at all
        assert f"MLflow tracking server {gateway.uri} refused the credentials (HTTP 401)" in line
        assert "MLFLOW_TRACKING_USERNAME" in line and "MLFLOW_TRACKING_TOKEN" in line

        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:hunter2@{address}")
        code, err = run("models", cwd=nobody)
        assert "refused the credentials (HTTP 401)" in one_error_line(code, err)
        assert "hunter2" not in err and "alice" not in err

        monkeypatch.setenv("MLFLOW_TRACKING_URI", gateway.uri)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2")
        code, err = run("models", cwd=nobody)
        assert "refused the credentials (HTTP 401)" in one_error_line(code, err) and "hunter2" not in err

        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
        assert REACHED in one_error_line(*run("models", cwd=nobody))

        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret@{address}")
        code, err = run("models", cwd=nobody)
        assert REACHED in one_error_line(code, err) and "s3cret" not in err


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
def test_mlflow_models_serve_answers_in_original_units_on_the_conditions_asked(monkeypatch, tmp_path):
    """Per-entity data with attributes and a categorical feature: the served model answers as `rgan sample` does,
    with or without conditions, one set per request row."""
    uri = f"sqlite:///{tmp_path / 'serve.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    workdir = tmp_path / "project"
    workdir.mkdir()
    entities_csv(workdir / "entities.csv")
    write_params(workdir / "params.yaml", tiny(
        data={"path": "entities.csv", "time_column": "t", "sequence_column": "entity", "seq_len": 8,
              "categorical_columns": ["state"], "attribute_columns": ["class", "size"]},
        registry={"model_name": "served"}))
    for command in (["prepare"], ["train"], ["evaluate"], ["register"]):
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
        assert list(served.columns) == list(expected.columns) == ["sequence_id", "step", "value", "state", "class", "size"]
        pd.testing.assert_frame_equal(served, expected, check_dtype=False)
        raw = pd.read_csv(workdir / "entities.csv")
        assert served["value"].between(raw["value"].min() - 0.5, raw["value"].max() + 0.5).all()

        on_class = invoke({"dataframe_records": [{"n": 3, "seed": 8, "class": "c", "size": 2.5}]})
        assert run("sample", "-n", "3", "--seed", "8", "--condition", "class=c", "--condition", "size=2.5",
                   "--out", "on_class.csv", cwd=workdir)[0] == 0
        pd.testing.assert_frame_equal(on_class, pd.read_csv(workdir / "on_class.csv"), check_dtype=False)
        assert (on_class["class"] == "c").all() and (on_class["size"] == 2.5).all()
        with pytest.raises(urllib.error.HTTPError) as unknown:
            invoke({"dataframe_records": [{"n": 1, "seed": 1, "class": "zzz"}]})
        assert unknown.value.code == 400 and "unknown category (allowed: a, b, c)" in unknown.value.read().decode()

        longer = invoke({"inputs": {"n": [2]}, "params": {"seed": 5, "seq_len": 40}})
        assert len(longer) == 2 * 40 and longer["step"].max() == 39
        with pytest.raises(urllib.error.HTTPError) as bad:
            invoke({"inputs": {"n": [0]}})
        assert bad.value.code == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
