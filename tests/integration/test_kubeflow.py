"""The Kubeflow pipelines: compiled YAML (image, GPUs, secrets, defaults, sweep), parameter overrides, the data
sources, real local runs with kfp.local, and submission to a KFP API server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
import yaml
from conftest import ROOT, cli_env, free_port, run, tiny, write_params
from kfp_api import KfpApi

from rgan.config import DataSource, load_params, parse_params
from rgan.errors import RganError
from rgan.kubeflow.document import document, parse_configuration, parse_document
from rgan.kubeflow.source import fetch
from rgan.kubeflow.steps import prepare_step, select_step
from rgan.tuning.space import planned_trials

IMAGE = "registry.example.com/team/rgan:test"
GPU_STEPS = ("train", "evaluate")


def _compile(tmp_path: Path, *args: str) -> tuple[dict, dict]:
    out = tmp_path / "pipeline.yaml"
    code, err = run("pipeline", "compile", "--out", str(out), *args, cwd=tmp_path)
    assert code == 0, err
    spec, platform = yaml.safe_load_all(out.read_text())
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A directory with the shipped params.yaml."""
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    return tmp_path


@pytest.mark.parametrize("sweep", [False, True], ids=["pipeline", "sweep"])
def test_compiled_pipeline_runs_every_step_in_the_image_with_gpus_secrets_and_params_defaults(shipped, sweep):
    spec, platform = _compile(shipped, "--image", IMAGE, *(["--sweep"] if sweep else []))
    params = load_params(shipped / "params.yaml")
    executors = spec["deploymentSpec"]["executors"]
    steps = {"prepare", "train", "evaluate", "register"} | ({"select", "train-2"} if sweep else set())
    assert set(executors) == {f"exec-{s}" for s in steps}
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == IMAGE, name
        assert "pip install" not in " ".join(container["command"]), "install_kfp_package=False: kfp comes from the image"
        step = name.removeprefix("exec-").removesuffix("-2")
        res, want = container["resources"], params.kubeflow.resources[step]
        assert res["cpuRequest"] == res["cpuLimit"] == float(want.cpu.removesuffix("m")) / (1000 if want.cpu.endswith("m") else 1)
        if step in GPU_STEPS:
            assert res["accelerator"]["resourceType"] == "nvidia.com/gpu" and int(res["accelerator"]["resourceCount"]) == 1
            tolerations = platform[name]["tolerations"]
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}.items() <= tolerations[0].items()
        else:
            assert "accelerator" not in res
        if step in ("train", "evaluate", "register"):
            secrets = platform[name]["secretAsEnv"]
            required = [s for s in secrets if not s.get("optional")]
            assert required[0]["secretName"] == "mlflow-tracking"
            assert required[0]["keyToEnv"] == [{"envVar": "MLFLOW_TRACKING_URI", "secretKey": "MLFLOW_TRACKING_URI"}]
        else:
            assert "secretAsEnv" not in platform.get(name, {})
    # one parameter holds every setting: the params document, JSON text whose default is params.yaml
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    shipped_raw = yaml.safe_load((shipped / "params.yaml").read_text())
    assert set(inputs) == {"params"} | ({"configurations"} if sweep else set())
    assert inputs["params"]["parameterType"] == "STRING"
    assert parse_document(inputs["params"]["defaultValue"]) == params
    doc = json.loads(inputs["params"]["defaultValue"])
    assert doc["train"]["steps"] == shipped_raw["train"]["steps"] and type(doc["train"]["steps"]) is int
    assert doc["model"]["cell"] == shipped_raw["model"]["cell"]
    tasks = spec["root"]["dag"]["tasks"]
    for task in ("prepare", "train", "evaluate", "register") if not sweep else ("prepare", "train-2", "evaluate", "register"):
        assert tasks[task]["inputs"]["parameters"]["params"] == {"componentInputParameter": "params"}, task
    if sweep:
        loop = next(t for t in tasks.values() if "parameterIterator" in t)
        assert loop["parameterIterator"]["items"]["inputParameter"] == "pipelinechannel--configurations"
        assert loop["iteratorPolicy"]["parallelismLimit"] == shipped_raw["kubeflow"]["sweep"]["parallelism"]
        # the trials are those `rgan tune` runs with the shipped tune section (random sampler, its seed), one JSON each
        assert inputs["configurations"]["parameterType"] == "LIST"
        assert [json.loads(c) for c in inputs["configurations"]["defaultValue"]] == planned_trials(params.tune)
        assert len(planned_trials(params.tune)) == shipped_raw["tune"]["trials"]
        trial = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]["train"]["inputs"]["parameters"]
        assert trial["configuration"] == {"componentInputParameter": loop["parameterIterator"]["itemInput"]}
        assert trial["trial"] == {"runtimeValue": {"constant": True}}
        # the fan-in: select ranks the loop's trained trials; the best settings are trained, evaluated, registered
        candidates = tasks["select"]["inputs"]["artifacts"]["candidates"]["taskOutputArtifact"]
        assert candidates["producerTask"] == loop["taskInfo"]["name"]
        final = tasks["train-2"]["inputs"]["parameters"]
        assert final["configuration"]["taskOutputParameter"] == {"outputParameterKey": "Output", "producerTask": "select"}
        assert final["trial"] == {"runtimeValue": {"constant": False}}
        assert tasks["evaluate"]["inputs"]["artifacts"]["generator"]["taskOutputArtifact"] == {"outputArtifactKey": "generator", "producerTask": "train-2"}
        assert tasks["register"]["dependentTasks"] == ["evaluate"]
        assert spec["components"]["comp-select"]["inputDefinitions"]["artifacts"]["candidates"]["isArtifactList"] is True
    else:
        assert set(tasks) == {"prepare", "train", "evaluate", "register"}
        assert tasks["register"]["dependentTasks"] == ["evaluate"]


def test_compile_takes_its_image_from_params_and_overrides_as_defaults(shipped):
    spec, _ = _compile(shipped, "--param", "train.steps=500", "--param", "source.uri=s3://bucket/prices.csv")
    assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {load_params(shipped / "params.yaml").kubeflow.image}
    doc = json.loads(spec["root"]["inputDefinitions"]["parameters"]["params"]["defaultValue"])
    assert doc["train"]["steps"] == 500
    assert doc["kubeflow"]["source"] == {"repo": None, "rev": None, "uri": "s3://bucket/prices.csv"}


@pytest.mark.parametrize("param, message", [
    ("train.stepz=5", "unknown key 'train.stepz'"),
    ("train.steps=0", "train.steps: Input should be greater than or equal to 1"),
    ("kubeflow.image=x", "not a pipeline parameter"),
    ("trainsteps", "expected KEY=VALUE"),
    ("source.repo=https://x/y.git", None),
    ("configurations=[{data: {seq_len: 3}}]", "not a pipeline parameter"),
    ("tune.trials=3", "not a pipeline parameter"),  # only with --sweep
])
def test_param_overrides_are_validated_with_the_key_named(shipped, param, message):
    code, err = run("pipeline", "compile", "--out", str(shipped / "p.yaml"), "--param", param, cwd=shipped)
    if message is None:
        assert code == 0, err
    else:
        assert code != 0 and message in err and "Traceback" not in err, err
        assert not (shipped / "p.yaml").exists()


def test_sweep_trials_follow_the_tune_section(shipped):
    spec, _ = _compile(shipped, "--sweep", "--param", "tune.trials=3", "--param", "tune.seed=7")
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    tune = load_params(shipped / "params.yaml").tune.model_copy(update={"trials": 3, "seed": 7})
    assert [json.loads(c) for c in inputs["configurations"]["defaultValue"]] == planned_trials(tune)
    assert json.loads(inputs["params"]["defaultValue"])["tune"]["trials"] == 3
    code, err = run("pipeline", "compile", "--sweep", "--out", str(shipped / "p.yaml"), "--param", "tune.space={data.seq_len: {choices: [3]}}", cwd=shipped)
    assert code != 0 and "'data.seq_len' is not a setting that can be tuned" in err
    code, err = run("pipeline", "compile", "--sweep", "--out", str(shipped / "p.yaml"), "--param", "tune.sampler=tpe", cwd=shipped)
    assert code != 0 and "needs tune.sampler: random" in err and "Traceback" not in err


def test_settings_cross_into_kubeflow_as_one_validated_json_document(tmp_path):
    # nulls whose default is not null (file order, one series, the last weights) and whole numbers survive as they are
    params = parse_params({"data": {"time_column": None, "sequence_column": None}, "train": {"ema_decay": None, "g_lr": 0.001}})
    text = document(params)
    assert parse_document(text) == params
    assert json.loads(text)["data"]["time_column"] is None and type(json.loads(text)["train"]["steps"]) is int
    assert parse_configuration('{"model": {"hidden": 16}}') == {"model": {"hidden": 16}} and parse_configuration("{}") == {}
    for bad, message in [
        ("{not json", "pipeline parameter params: not JSON text"),
        ('{"train": {"steps": 0}}', "pipeline parameter params: train.steps: Input should be greater than or equal to 1"),
        ('{"train": {"stepz": 5}}', "pipeline parameter params: unknown key 'train.stepz'"),
        ("[1, 2]", "pipeline parameter params: expected a mapping of sections"),
    ]:
        with pytest.raises(RganError, match=message):
            parse_document(bad)
    for bad in ('{"modle": {"hidden": 16}}', '{"model": 16}', "[]", "nope"):
        with pytest.raises(RganError, match="sweep configuration.*expected a JSON object"):
            parse_configuration(bad)
    # a step given a bad document ends in one line, as the CLI does
    prepared = SimpleNamespace(path=str(tmp_path / "prepared"), metadata={})
    with pytest.raises(SystemExit, match=r"^rgan prepare: error: invalid params: pipeline parameter params: train\.steps: .*\(got 0\)$"):
        prepare_step('{"train": {"steps": 0}}', prepared)


def _candidate(tmp_path: Path, name: str, ratio: float, disc: float) -> SimpleNamespace:
    path = tmp_path / name
    path.mkdir()
    (path / "marker").write_text(name)
    return SimpleNamespace(path=str(path), metadata={"mlflow_run_id": name, "configuration": '{"model": {"hidden": 8}}', "d_state": "ok",
                                                      "validation": {"ratio": ratio, "discriminative": disc, "floor": 0.02, "windows": 50}})


def test_select_ranks_trials_on_validation_as_rgan_tune_does(tmp_path):
    candidates = [_candidate(tmp_path, "a", 3.0, 0.20), _candidate(tmp_path, "b", 1.5, 0.06), _candidate(tmp_path, "c", 1.5, 0.05)]
    candidates[2].metadata["configuration"] = '{"model": {"hidden": 16}}'
    board = SimpleNamespace(path=str(tmp_path / "board.md"), metadata={})
    # equal ratios: the lower score wins, as in rgan.tuning.space.rank; the settings go on as JSON text
    assert json.loads(select_step(candidates, board)) == {"model": {"hidden": 16}}
    text = (tmp_path / "board.md").read_text()
    assert "| c **(selected)** |" in text and '{"model": {"hidden": 8}}' in text and '{"model": {"hidden": 16}}' in text
    assert text.index("| c") < text.index("| b") < text.index("| a")
    unscored = SimpleNamespace(path=str(tmp_path / "a"), metadata={"mlflow_run_id": "x"})
    with pytest.raises(SystemExit, match="has no validation score"):
        select_step([unscored], board)


@pytest.fixture
def dvc_data_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A git + DVC repository with a CSV of sines at two commits; returns (repo, tag of v1, its commit)."""
    repo = tmp_path / "data-repo"
    repo.mkdir()
    env = cli_env()

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()

    sh("git", "init", "-q")
    sh("git", "config", "user.email", "test@example.com")
    sh("git", "config", "user.name", "test")
    sh("dvc", "init", "-q")
    write_params(repo / "params.yaml", tiny(data={"sines": {"n_sequences": 300, "length": 24, "dim": 3, "seed": 1}}))
    assert run("make-sines", "--out", "data/sines.csv", cwd=repo)[0] == 0
    sh("dvc", "add", "-q", "data/sines.csv")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "v1")
    sh("git", "tag", "v1")
    commit = sh("git", "rev-parse", "HEAD")
    (repo / "data" / "sines.csv").write_text("sequence_id,step,a\n0,0,1.0\n")  # a later, different version
    sh("dvc", "add", "-q", "data/sines.csv")
    sh("git", "commit", "-qam", "v2")
    return repo, "v1", commit


def test_fetch_from_a_dvc_repository_at_a_revision_and_from_a_uri(dvc_data_repo, tmp_path):
    repo, tag, commit = dvc_data_repo
    local, record = fetch(DataSource(repo=str(repo), rev=tag), "data/sines.csv", tmp_path / "a")
    assert record["commit"] == commit and record["rev"] == tag and record["kind"] == "dvc"
    dvc_file = yaml.safe_load(subprocess.run(["git", "show", f"{tag}:data/sines.csv.dvc"], cwd=repo, capture_output=True, text=True, check=True).stdout)
    assert record["md5"] == dvc_file["outs"][0]["md5"]
    assert local.read_text().startswith("sequence_id,step,")  and len(local.read_text().splitlines()) > 100
    copy, record2 = fetch(DataSource(uri=local.as_uri()), "ignored.csv", tmp_path / "b")
    assert record2 == {"kind": "uri", "uri": local.as_uri(), "md5": record["md5"]} and copy.read_bytes() == local.read_bytes()
    for source, path, message in [
        (DataSource(repo=str(repo), rev="no-such-tag"), "data/sines.csv", "unknown Git revision"),
        (DataSource(repo=str(repo), rev=tag), "data/other.csv", "data/other.csv not found in DVC repository"),
        (DataSource(uri="nosuchstore://bucket/x.csv"), "x.csv", "cannot read nosuchstore://bucket/x.csv: Protocol not known"),
        (DataSource(uri=str(tmp_path / "missing.csv")), "x.csv", "data file not found"),
    ]:
        with pytest.raises(RganError, match=message):
            fetch(source, path, tmp_path / "c")


def _run_local(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rgan", "pipeline", "run-local", "--root", str(workdir / "kfp-local"), *args],
                          cwd=workdir, env=cli_env(), capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_run_local_pipeline_from_a_dvc_repository_registers_a_version(dvc_data_repo, tmp_path):
    repo, tag, commit = dvc_data_repo
    workdir = tmp_path / "project"
    workdir.mkdir()
    name = f"kfp-local-{free_port()}"
    write_params(workdir / "params.yaml", tiny(data={"path": "data/sines.csv"}, registry={"model_name": name}))
    proc = _run_local(workdir, "--param", f"source.repo={repo}", "--param", f"source.rev={tag}", "--param", "train.steps=25")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"local pipeline run registered {name} v1 (champion)" in proc.stderr
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(name, "champion")
    tags = version.tags
    assert tags["rgan.source.kind"] == "dvc" and tags["rgan.source.commit"] == commit and tags["rgan.source.rev"] == tag
    assert "score.discriminative" in tags
    run_ = client.get_run(version.run_id)
    assert run_.data.params["train.steps"] == "25"  # the override reached training
    assert run_.data.tags["rgan.source.path"] == "data/sines.csv"
    assert "eval/discriminative" in run_.data.metrics and run_.info.status == "FINISHED"
    # the step outputs are KFP artifacts: a Dataset, the generator Model with its run id, Metrics, an HTML report
    root = next((workdir / "kfp-local").iterdir())
    assert (root / "train" / "generator" / "generator.pt").is_file()
    assert "<img" in (root / "evaluate" / "report").read_text()


@pytest.mark.slow
def test_run_local_sweep_trains_the_tune_trials_and_registers_only_the_best(tmp_path):
    workdir = tmp_path / "project"
    workdir.mkdir()
    name = f"kfp-sweep-{free_port()}"
    space = {"model.cell": {"choices": ["lstm", "gru"]}, "train.g_lr": {"low": 0.0005, "high": 0.002, "log": True}}
    write_params(workdir / "params.yaml", tiny(registry={"model_name": name, "gates": {}}, mlflow={"experiment": name},
                                               tune={"trials": 2, "steps": 15, "repeats": 1, "seed": 3, "space": space}))
    assert run("make-sines", cwd=workdir)[0] == 0
    proc = _run_local(workdir, "--sweep")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"local pipeline run registered {name} v1 (champion)" in proc.stderr
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name = '{name}'")
    assert len(versions) == 1  # only the best
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])  # this test's own experiment
    trials = planned_trials(load_params(workdir / "params.yaml").tune)
    trial_runs = [r for r in runs if r.data.params["train.steps"] == "15"]  # tune.steps
    assert len(trial_runs) == 2 and sorted(r.data.params["train.g_lr"] for r in trial_runs) == sorted(str(t["train"]["g_lr"]) for t in trials)
    # the selected settings are trained for train.steps, evaluated (on test windows) and registered
    (final,) = [r for r in runs if r.data.params["train.steps"] == "20"]
    assert "eval/discriminative" in final.data.metrics and versions[0].run_id == final.info.run_id
    assert not any("eval/discriminative" in r.data.metrics for r in trial_runs)
    board = next((workdir / "kfp-local").iterdir()) / "select" / "leaderboard"
    assert board.read_text().count("| ") >= 2 and "(selected)" in board.read_text() and "validation" in board.read_text()


def test_run_local_reports_a_failing_step_in_one_line(tmp_path):
    write_params(tmp_path / "params.yaml", tiny(data={"path": "data/missing.csv"}))
    proc = _run_local(tmp_path)
    assert proc.returncode == 1
    assert "rgan prepare: error: data file not found: data/missing.csv" in proc.stdout + proc.stderr  # the step's log
    assert "rgan pipeline run-local: error: the local pipeline run failed" in proc.stderr.splitlines()[-1]


def test_submit_sends_the_compiled_spec_and_overrides_with_the_token(shipped, monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", "secret-token")
    with KfpApi(require_token="secret-token") as api:
        proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "submit", "--host", api.host, "--namespace", "team-a",
                               "--experiment", "nightly", "--param", "train.steps=777", "--param", "source.uri=s3://bucket/prices.csv"],
                              cwd=shipped, env=cli_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        (run_id, run_), = api.runs.items()
        assert proc.stdout.strip() == f"{api.host}/#/runs/details/{run_id}"
        experiment = api.experiments[run_["experiment_id"]]
        assert experiment["display_name"] == "nightly" and experiment["namespace"] == "team-a"
        spec = run_["pipeline_spec"]["pipeline_spec"]
        assert spec["pipelineInfo"]["name"] == "rgan"
        assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {load_params(shipped / "params.yaml").kubeflow.image}
        assert run_["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]["secretAsEnv"]
        values = run_["runtime_config"]["parameters"]
        assert set(values) == {"params"}
        doc = json.loads(values["params"])  # the whole document, two settings changed
        shipped_train = load_params(shipped / "params.yaml").train
        assert doc["train"]["steps"] == 777 and doc["train"]["batch_size"] == shipped_train.batch_size  # unchanged
        assert doc["kubeflow"]["source"] == {"repo": None, "rev": None, "uri": "s3://bucket/prices.csv"}
        assert all(r["authorization"] == "Bearer secret-token" for r in api.requests if r["path"] != "/apis/v2beta1/healthz")

        monkeypatch.setenv("KFP_TOKEN", "wrong")
        proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "submit", "--host", api.host, "--sweep"],
                              cwd=shipped, env=cli_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1 and "HTTP 401" in proc.stderr and "KFP_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_submit_to_an_unreachable_host_fails_clearly(shipped):
    proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "submit", "--host", f"http://127.0.0.1:{free_port()}"],
                          cwd=shipped, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot reach Kubeflow Pipelines at http://127.0.0.1:" in proc.stderr and "Connection refused" in proc.stderr


def test_run_local_in_an_image_without_a_container_engine_is_one_line(tmp_path, monkeypatch):
    write_params(tmp_path / "params.yaml", tiny())
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    proc = _run_local(tmp_path, "--image", "localhost/rgan:test")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"rgan pipeline run-local: error: no container engine answers at unix://{tmp_path / 'no-engine.sock'}")
    assert not (tmp_path / "kfp-local").exists()
