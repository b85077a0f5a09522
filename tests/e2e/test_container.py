"""The project image, built by `.ci/image` and run with a real container engine (podman): the CLI, a tiny
make-sines -> prepare -> train -> evaluate -> sample chain locked down as a cluster would run it (user 10001, read-only
root filesystem, every capability dropped, no network), and an image that holds no secrets and records its commit.

CI (CI=true) must have the engine: there these tests fail without it. Elsewhere they skip, saying why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT, TINY, complete

ENGINE = "podman"
UID = 10001  # the Dockerfile's user
# how a pipeline step runs: not root, nothing writable but the work volume and /tmp, no capabilities, no network
LOCKED = ["--user", str(UID), "--read-only", "--cap-drop", "all", "--security-opt", "no-new-privileges", "--network", "none"]


@pytest.fixture(scope="session")
def image() -> str:
    if shutil.which(ENGINE) is None and os.environ.get("CI") != "true":
        pytest.skip(f"{ENGINE} is not installed (bash .ci/image installs it as root; CI requires it)")
    proc = subprocess.run(["bash", str(ROOT / ".ci/image")], capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stderr)  # sizes and times, shown with -s
    return proc.stdout.strip().splitlines()[-1]


def container(image: str, *args: str, volume=None, options=(), timeout=600) -> subprocess.CompletedProcess:
    mount = ["--volume", f"{volume}:/work", "--workdir", "/work"] if volume else []
    return subprocess.run([ENGINE, "run", "--rm", *LOCKED, *mount, *options, image, *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def work(tmp_path):
    """A work volume the container's user owns, holding tiny params."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "params.yaml").write_text(yaml.safe_dump(complete(TINY)))
    os.chown(folder, UID, UID)
    os.chown(folder / "params.yaml", UID, UID)
    return folder


def test_help_and_params_in_the_locked_down_container(image, work):
    proc = container(image, "--help")
    assert proc.returncode == 0 and "usage: rgan" in proc.stdout, proc.stderr
    proc = container(image, "params", volume=work)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["train"]["steps"] == TINY["train"]["steps"]


def test_a_tiny_chain_runs_locked_down_and_writes_only_to_its_volume(image, work):
    for command in (["make-sines"], ["prepare"], ["train", "--no-mlflow"], ["evaluate", "--no-mlflow"],
                    ["sample", "-n", "5", "--seed", "7", "--out", "samples.csv"]):
        proc = container(image, *command, volume=work)
        assert proc.returncode == 0, f"{command}: {proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr
    for path in ("data/prepared/scaler.json", "models/generator.pt", "metrics/train.json", "metrics/eval.json", "plots/pca.png"):
        assert (work / path).is_file(), path
    samples = pd.read_csv(work / "samples.csv")
    assert samples["sequence_id"].nunique() == 5 and len(samples) == 5 * TINY["data"].get("seq_len", 24)
    assert json.loads((work / "metrics/eval.json").read_text())["discriminative"]["mean"] >= 0


def test_the_root_filesystem_is_read_only_and_the_user_is_not_root(image, work):
    proc = container(image, "-c", "import os, pathlib; print(os.getuid()); pathlib.Path('/opt/rgan/x').write_text('x')",
                     options=["--entrypoint", "python"])
    assert proc.stdout.strip() == str(UID) and proc.returncode != 0 and "Read-only file system" in proc.stderr


def test_the_image_holds_no_secrets_and_records_its_commit(image):
    inspected = json.loads(subprocess.run([ENGINE, "image", "inspect", image], capture_output=True, text=True, check=True).stdout)[0]
    env = dict(item.split("=", 1) for item in inspected["Config"]["Env"])
    secret_words = ("PASSWORD", "TOKEN", "SECRET", "AWS_", "MLFLOW_TRACKING_URI", "CREDENTIAL")
    assert not [k for k in env if any(w in k.upper() for w in secret_words)], env
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert env["RGAN_GIT_COMMIT"] == commit
    history = subprocess.run([ENGINE, "history", "--no-trunc", "--format", "{{.CreatedBy}}", image], capture_output=True, text=True,
                             check=True).stdout
    assert not any(w in history.upper() for w in ("PASSWORD", "TOKEN=", "SECRET", "AWS_SECRET"))
    # the files the build copied: only what .dockerignore lets through
    listing = subprocess.run([ENGINE, "run", "--rm", "--entrypoint", "sh", image, "-c", "ls -a /opt/rgan"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert not {".git", ".venv", "mlflow.db", "data", "models", ".env"} & set(listing), listing


def test_each_build_records_its_own_commit_when_every_other_layer_is_cached(image):
    # podman reuses a cached ENV layer whose ARG changed (containers/buildah#5501): a build of a new commit with an
    # unchanged context must still record the new commit, in the environment and in /opt/rgan/GIT_COMMIT
    built = {}
    try:
        for commit in ("0123456789aa-first", "0123456789bb-second", "0123456789aa-first"):
            proc = subprocess.run(["bash", str(ROOT / ".ci/image")], capture_output=True, text=True, timeout=1800,
                                  env={**os.environ, "GIT_COMMIT": commit})
            assert proc.returncode == 0, proc.stderr[-3000:]
            built[commit] = proc.stdout.strip().splitlines()[-1]
            shown = subprocess.run([ENGINE, "run", "--rm", "--entrypoint", "sh", built[commit], "-c",
                                    'echo "$RGAN_GIT_COMMIT"; cat /opt/rgan/GIT_COMMIT'], capture_output=True, text=True, check=True)
            assert shown.stdout.split() == [commit, commit]
    finally:
        for tag in set(built.values()) - {image}:
            subprocess.run([ENGINE, "rmi", tag], capture_output=True)


def test_a_run_tracked_from_the_container_records_the_images_commit(image, work):
    # tracking into a SQLite store on the work volume: no network needed
    for command in (["make-sines"], ["prepare"], ["train"]):
        proc = container(image, *command, volume=work, options=["--env", "MLFLOW_TRACKING_URI=sqlite:////work/mlflow.db"])
        assert proc.returncode == 0, f"{command}: {proc.stderr[-2000:]}"
    from mlflow import MlflowClient

    run_id = json.loads((work / "models/mlflow_run.json").read_text())["run_id"]
    tags = MlflowClient(f"sqlite:///{work / 'mlflow.db'}").get_run(run_id).data.tags
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert tags["rgan.git_commit"] == commit and tags["mlflow.source.git.commit"] == commit


@pytest.mark.parametrize("cpus", [1, 2])
def test_training_threads_follow_the_containers_cpu_limit(image, work, cpus):
    raw = yaml.safe_load((work / "params.yaml").read_text())
    raw["train"]["threads"] = None  # the default: the CPU quota
    (work / "params.yaml").write_text(yaml.safe_dump(raw))
    for command in (["make-sines"], ["prepare"], ["train", "--no-mlflow"]):
        proc = container(image, *command, volume=work, options=["--cpus", str(cpus)])
        assert proc.returncode == 0, f"{command}: {proc.stderr[-2000:]}"
    assert json.loads((work / "metrics/train.json").read_text())["threads"] == cpus
    assert f"({cpus} CPU threads)" in proc.stderr


def test_the_image_serves_the_champion_equal_to_rgan_sample(image, work):
    """As KServe's MLflow runtime would: `mlflow models serve` of models:/NAME@champion inside the image, answering
    sequences in original units equal to `rgan sample` with the same seed."""
    import time
    import urllib.request

    from conftest import free_port

    raw = yaml.safe_load((work / "params.yaml").read_text())
    raw["registry"] = {**raw.get("registry", {}), "model_name": "served"}
    (work / "params.yaml").write_text(yaml.safe_dump(raw))
    store = ["--env", "MLFLOW_TRACKING_URI=sqlite:////work/mlflow.db"]
    for command in (["make-sines"], ["prepare"], ["train"], ["evaluate"], ["register"]):
        proc = container(image, *command, volume=work, options=store)
        assert proc.returncode == 0, f"{command}: {proc.stderr[-2000:]}"
    proc = container(image, "sample", "--model", "models:/served@champion", "-n", "4", "--seed", "5", "--out", "expected.csv",
                     volume=work, options=store)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = pd.read_csv(work / "expected.csv")

    port = free_port()
    name = f"rgan-serve-{port}"
    serve = [ENGINE, "run", "--detach", "--rm", "--name", name, "--user", str(UID), "--read-only", "--cap-drop", "all",
             "--security-opt", "no-new-privileges", "--network", "host", "--volume", f"{work}:/work", "--workdir", "/work", *store,
             "--entrypoint", "mlflow", image, "models", "serve", "-m", "models:/served@champion", "--env-manager", "local",
             "--host", "127.0.0.1", "--port", str(port)]
    subprocess.run(serve, check=True, capture_output=True, text=True)
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                logs = subprocess.run([ENGINE, "logs", name], capture_output=True, text=True).stderr
                assert time.time() < deadline, f"the scoring server did not start: {logs[-2000:]}"
                time.sleep(1)
        body = json.dumps({"dataframe_split": {"columns": ["n", "seed"], "data": [[4, 5]]}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])
    finally:
        subprocess.run([ENGINE, "rm", "--force", name], capture_output=True)
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)
    real = pd.read_parquet(work / "data/raw/sines.parquet")
    assert served["feature_0"].between(real["feature_0"].min() - 0.5, real["feature_0"].max() + 0.5).all()  # original units


@pytest.fixture(scope="session")
def engine_socket(tmp_path_factory):
    """podman's Docker-compatible API on a socket, for kfp.local's DockerRunner (docker SDK)."""
    import signal
    import time

    sock = tmp_path_factory.mktemp("engine") / "podman.sock"
    proc = subprocess.Popen([ENGINE, "system", "service", "--time=0", f"unix://{sock}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while not sock.exists():
        assert proc.poll() is None and time.time() < deadline, "podman system service did not start"
        time.sleep(0.2)
    yield f"unix://{sock}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _lineage(client, name: str, version: str) -> dict[str, str]:
    run = client.get_run(client.get_model_version(name, version).run_id)
    # what says where the run came from; the Python patch version differs between the image's Debian and this venv
    return {k: v for k, v in run.data.tags.items() if k.startswith(("rgan.", "mlflow.source")) and k != "rgan.python_version"}


@pytest.mark.slow
def test_the_pipeline_runs_every_step_in_the_image_and_registers_as_the_subprocess_runner_does(
        image, engine_socket, mlflow_server, tmp_path):
    import sys

    from conftest import cli_env, tiny, write_params
    from mlflow import MlflowClient

    project = tmp_path / "project"
    project.mkdir()
    name = f"in-image-{tmp_path.name[-12:]}".replace("_", "-")
    write_params(project / "params.yaml", tiny(registry={"model_name": name, "gates": {}}, mlflow={"experiment": name},
                                               tune={"trials": 2, "steps": 15, "repeats": 1, "space": {"train.g_lr": {"choices": [0.001, 0.002]}}}))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # no git repository in the project: the subprocess runner records RGAN_GIT_COMMIT, as the image does
    env = {**cli_env(), "DOCKER_HOST": engine_socket, "MLFLOW_TRACKING_URI": mlflow_server.uri, "RGAN_GIT_COMMIT": commit}
    # the data from a URI outside the project (as `source.uri` on a cluster): the container runner mounts its folder
    data = tmp_path / "outside" / "sines.parquet"
    assert subprocess.run([sys.executable, "-m", "rgan", "make-sines", "--out", str(data)], cwd=project, env=env).returncode == 0
    source = ["--param", f"source.uri=file://{data}"]
    for runner, root in ((["--image", image], "kfp-image"), ([], "kfp-subprocess"), (["--image", image, "--sweep"], "kfp-image-sweep")):
        proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "run-local", *runner, *source, "--root", root], cwd=project, env=env,
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"local pipeline run registered {name} v3" in proc.stderr  # the sweep's best, trained, evaluated, registered in the image
    trials = [r for r in MlflowClient(mlflow_server.uri).search_runs([MlflowClient(mlflow_server.uri).get_experiment_by_name(name).experiment_id])
              if r.data.params.get("train.steps") == "15"]
    assert len(trials) == 2
    client = MlflowClient(mlflow_server.uri)
    in_image, in_subprocess = _lineage(client, name, "1"), _lineage(client, name, "2")
    assert in_image["rgan.git_commit"] == commit and in_image["rgan.data_md5"] and in_image["rgan.source.uri"] == f"file://{data}"
    assert in_image == in_subprocess


def test_run_local_with_an_image_the_engine_lacks_is_one_line(engine_socket, tmp_path):
    import sys

    from conftest import cli_env, tiny, write_params

    write_params(tmp_path / "params.yaml", tiny())
    proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "run-local", "--image", "localhost/rgan:no-such-tag"], cwd=tmp_path,
                          env={**cli_env(), "DOCKER_HOST": engine_socket}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"rgan pipeline run-local: error: image localhost/rgan:no-such-tag is not in the "
                                                    f"container engine at {engine_socket}: build it (`bash .ci/image`) or pull it")


@pytest.mark.parametrize("script, code", [("echo step ran; exit 3", 3), ("exit 0", 0), ("exit 1", 1)])
def test_a_pipeline_steps_exit_code_is_read_before_its_container_is_removed(image, engine_socket, script, code, capfd):
    """kfp.local's own runner removes a step's container as it ends (podman: sometimes before docker-py inspects it,
    and a status it could not read counts as success); rgan's keeps it until the exit code is read, then removes it."""
    import docker

    from rgan.kubeflow.local_container import run_step_container

    client = docker.DockerClient(base_url=engine_socket)
    label = f"rgan-test-{os.getpid()}-{code}"
    try:
        assert run_step_container(client, image, ["sh", "-c", script], {}, entrypoint=[""], labels={"rgan.test": label}, auto_remove=True) == code
        assert client.containers.list(all=True, filters={"label": f"rgan.test={label}"}) == []  # removed once read
    finally:
        client.close()
    if code == 3:
        assert "step ran" in capfd.readouterr().out
