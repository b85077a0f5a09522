"""MLflow for real: runs with params, metrics, lineage and a model; the registry (register, promote, rollback,
gates, concurrent registers); sampling by alias in a fresh process. Each against a real `mlflow server` and
the embedded SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY, cli_env, run, tiny, write_params
from mlflow import MlflowClient

PENDING = "models/checkpoints/mlflow_run.json"


@pytest.fixture(scope="module", params=["server", "sqlite"])
def project(request, tmp_path_factory):
    """A project trained, evaluated and logged once per backend; tests register its model under their own names."""
    root = tmp_path_factory.mktemp(f"project-{request.param}")
    uri = request.getfixturevalue("mlflow_server").uri if request.param == "server" else f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        write_params(root / "params.yaml", TINY)
        for command in (["make-sines"], ["prepare"], ["train"], ["evaluate"]):
            code, err = run(*command, cwd=root)
            assert code == 0, err
    return root, uri


@pytest.fixture
def at(project, monkeypatch):
    """Run commands in the project, tracking into its backend."""
    root, uri = project
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return root


def client_for(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def record(root: Path) -> dict:
    return json.loads((root / "models/mlflow_run.json").read_text())


def registry_params(root: Path, name: str, **registry) -> str:
    """A params file for one test: its own registered model name."""
    path = root / f"params-{name}.yaml"
    write_params(path, tiny(registry={"model_name": name, **registry}))
    return path.name


def scores_file(root: Path, name: str, discriminative: float, memorization_pass: bool = True) -> str:
    """The project's real evaluation scores with the ranking score set: versions that differ in quality."""
    metrics = json.loads((root / "metrics/eval.json").read_text())
    metrics["discriminative"] = {"mean": discriminative, "std": 0.01}
    metrics["memorization_pass"] = memorization_pass
    path = root / f"eval-{name}.json"
    path.write_text(json.dumps(metrics))
    return path.name


def new_run(root: Path, name: str) -> str:
    """Another run with its own logged model, from the project's trained files (`rgan log` without a pending run)."""
    (root / PENDING).unlink(missing_ok=True)
    code, err = run("log", "--run-file", f"run-{name}.json", cwd=root)
    assert code == 0, err
    return f"run-{name}.json"


def register(root: Path, params: str, scores: str, run_file: str = "models/mlflow_run.json") -> tuple[int, str, dict]:
    code, err = run("register", "--params", params, "--metrics", scores, "--run-file", run_file, "--out", "registry.json", cwd=root)
    return code, err, json.loads((root / "registry.json").read_text()) if code == 0 else {}


def aliases(uri: str, name: str) -> dict[str, int]:
    return {alias: int(v) for alias, v in client_for(uri).get_registered_model(name).aliases.items()}


def test_training_run_has_params_metrics_lineage_and_model(project):
    root, uri = project
    rec = record(root)
    client = client_for(uri)
    run_ = client.get_run(rec["run_id"])
    assert run_.info.status == "FINISHED"
    assert client.get_experiment(run_.info.experiment_id).name == "rgan"
    params = run_.data.params
    assert params["model.cell"] == "lstm" and params["train.steps"] == "20" and params["data.seq_len"] == "24"
    assert params["train.betas"] == "[0.5, 0.999]" and params["mlflow.experiment"] == "rgan"
    assert not [key for key in params if key.split(".")[0] in ("evaluate", "registry", "tune", "kubeflow")]  # not train's
    assert run_.data.tags["evaluate.repeats"] == "2" and run_.data.tags["evaluate.workers"] == "1"  # evaluate's, as tags
    steps = [m.step for m in client.get_metric_history(rec["run_id"], "train/g_loss")]
    assert steps == [5, 10, 15, 20]  # every logged row once, with its step
    for name in ("train/d_loss", "train/d_grad_norm", "train/g_grad_norm", "train/steps_per_s", "eval/discriminative", "eval/predictive", "eval/memorization_ratio"):
        assert name in run_.data.metrics, name
    train_json = json.loads((root / "metrics/train.json").read_text())  # the generator shipped (train.keep)
    assert run_.data.metrics["train/generator_step"] == train_json["generator_step"] == 20
    assert run_.data.metrics["train/generator_val_context_fid"] == pytest.approx(train_json["val_context_fid"])
    eval_json = json.loads((root / "metrics/eval.json").read_text())
    assert run_.data.metrics["eval/discriminative"] == pytest.approx(eval_json["discriminative"]["mean"])

    from rgan.tracking.lineage import dvc_md5

    tags = run_.data.tags
    assert tags["rgan.data_md5"] == dvc_md5(root / "data/prepared") and tags["rgan.data_md5"].endswith(".dir")
    assert tags["rgan.dataset"] == "sines" and tags["rgan.device"] == "cpu"
    assert tags["rgan.torch_version"].startswith("2.") and tags["rgan.git_commit"] == "unknown"  # not a git repo
    assert rec["tags"]["rgan.data_md5"] == tags["rgan.data_md5"]

    artifacts = {a.path for d in ("plots", "eval", "train") for a in client.list_artifacts(rec["run_id"], d)}
    assert {"plots/tsne.png", "plots/pca.png", "eval/eval.json", "train/train_log.tsv", "train/train.json"} <= artifacts
    model = client.get_logged_model(rec["model_id"])
    assert model.source_run_id == rec["run_id"]


def test_pyfunc_model_samples_original_units_in_a_fresh_process(at):
    rec = record(at)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model({rec['model_uri']!r})\n"
        "a = m.predict(pd.DataFrame({'n': [3], 'seed': [7]}))\n"
        "b = m.predict(pd.DataFrame(), params={'n': 3, 'seed': 7})\n"
        "c = m.predict(pd.DataFrame({'n': [1, 2], 'seed': [7, 8]}), params={'seq_len': 5})\n"
        "assert a.equals(b) and c.shape[0] == 3 * 5 and list(c.sequence_id.unique()) == [0, 1, 2]\n"
        "a.to_csv(sys.argv[1], index=False)\n"
        "print(m.metadata.signature.to_dict())\n"
    )
    result = subprocess.run([sys.executable, "-c", script, "pyfunc.csv"], cwd=at, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"name": "n"' in result.stdout and "sequence_id" in result.stdout
    assert run("sample", "-n", "3", "--seed", "7", "--out", "file.csv", cwd=at)[0] == 0
    pyfunc, from_file = pd.read_csv(at / "pyfunc.csv"), pd.read_csv(at / "file.csv")
    pd.testing.assert_frame_equal(pyfunc, from_file)
    assert list(pyfunc.columns) == ["sequence_id", "step", "feature_0", "feature_1", "feature_2"]


def test_register_promote_rollback_and_gates(at):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    name = "reg-cycle"
    params = registry_params(at, name)

    code, err, first = register(at, params, scores_file(at, "a", 0.30), new_run(at, "a"))
    assert code == 0, err
    assert first["version"] == 1 and first["champion"] and aliases(uri, name) == {"challenger": 1, "champion": 1}

    code, err, worse = register(at, params, scores_file(at, "b", 0.40), new_run(at, "b"))
    assert code == 0 and not worse["champion"] and "does not beat champion v1" in err
    assert aliases(uri, name) == {"challenger": 2, "champion": 1}

    run_c = new_run(at, "c")
    code, err, better = register(at, params, scores_file(at, "c", 0.10), run_c)
    assert code == 0 and better["champion"]
    assert aliases(uri, name) == {"challenger": 3, "champion": 3, "previous": 1}
    version = client_for(uri).get_model_version(name, "3")
    assert version.tags["score.discriminative"] == "0.1" and version.tags["score.memorization_pass"] == "true"
    assert version.tags["rgan.data_md5"].endswith(".dir") and version.run_id == json.loads((at / run_c).read_text())["run_id"]

    # the same run again (say, re-evaluated): its version is updated, not duplicated
    code, err, again = register(at, params, scores_file(at, "c2", 0.09), run_c)
    assert code == 0 and again["version"] == 3 and again["champion"] and "already registered as v3" in err
    assert client_for(uri).get_model_version(name, "3").tags["score.discriminative"] == "0.09"

    assert run("promote", "--params", params, "--version", "2", cwd=at)[0] == 0
    assert aliases(uri, name) == {"challenger": 3, "champion": 2, "previous": 3}
    code, err = run("promote", "--params", params, "--rollback", cwd=at)
    assert code == 0 and "now v3" in err
    assert aliases(uri, name) == {"challenger": 3, "champion": 3, "previous": 2}

    # best score, but it fails the memorization gate: registered, not champion; a person must --force it
    code, err, memorizer = register(at, params, scores_file(at, "d", 0.01, memorization_pass=False), new_run(at, "d"))
    assert code == 0 and not memorizer["champion"] and "fails the registry gates" in err
    assert aliases(uri, name)["champion"] == 3
    code, err = run("promote", "--params", params, "--alias", "challenger", cwd=at)
    assert code != 0 and "memorization_pass is false" in err and "--force" in err
    assert run("promote", "--params", params, "--alias", "challenger", "--force", cwd=at)[0] == 0
    assert aliases(uri, name) == {"challenger": 4, "champion": 4, "previous": 3}

    code, err = run("promote", "--params", params, "--version", "9", cwd=at)
    assert code != 0 and "no version 9" in err

    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert run("models", "--params", params, cwd=at)[0] == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"registered model '{name}'" and lines[1].split()[:3] == ["version", "aliases", "created"]
    assert [line.split()[0] for line in lines[2:]] == ["v4", "v3", "v2", "v1"]
    assert "challenger,champion" in lines[2] and "FAIL" in lines[2] and "previous" in lines[3] and "0.4000" in lines[4]


def test_gate_on_a_score_and_manual_promotion_mode(at):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    name = "reg-manual"
    code, err, result = register(at, registry_params(at, name, auto_promote=False), scores_file(at, "e", 0.2), new_run(at, "e"))
    assert code == 0 and not result["champion"] and "rgan promote --version 1" in err
    assert aliases(uri, name) == {"challenger": 1}

    gated = registry_params(at, name, gates={"memorization_pass": True, "discriminative": {"max": 0.15}})
    code, err, result = register(at, gated, scores_file(at, "f", 0.2), new_run(at, "f"))
    assert code == 0 and not result["champion"] and "discriminative 0.2 is above the gate's max 0.15" in err
    code, err, result = register(at, gated, scores_file(at, "g", 0.1), new_run(at, "g"))
    assert code == 0 and result["champion"] and aliases(uri, name) == {"challenger": 3, "champion": 3}


def test_concurrent_registers_leave_consistent_aliases(at):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    name = "reg-race"
    params = registry_params(at, name)
    runs = [new_run(at, "race0"), new_run(at, "race1")]
    env = {**cli_env(), "MLFLOW_TRACKING_URI": uri}
    procs = [
        subprocess.Popen([sys.executable, "-m", "rgan", "register", "--params", params, "--run-file", run_file,
                          "--metrics", scores_file(at, f"race{i}", score), "--out", f"race{i}.json"],
                         cwd=at, env=env, stderr=subprocess.PIPE, text=True)
        for i, (run_file, score) in enumerate(zip(runs, (0.2, 0.1)))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    client = client_for(uri)
    assert sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'")) == [1, 2]  # both registered
    outcomes = [json.loads((at / f"race{i}.json").read_text()) for i in range(2)]
    final = aliases(uri, name)
    assert final["champion"] in (1, 2) and final["challenger"] in (1, 2)
    assert final.get("previous") in (None, 3 - final["champion"])  # if the first one won for a while: the other
    if uri.startswith("sqlite"):
        # a local store is locked while aliases move: the better version wins whatever the order
        better, worse = sorted(outcomes, key=lambda o: o["scores"]["discriminative"])
        assert final["champion"] == better["version"] and better["champion"]
        if worse["champion"]:  # it came first and was champion until the better one arrived
            assert final["previous"] == worse["version"]


def test_sample_by_alias_in_a_fresh_process_matches_the_file(at, tmp_path):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    name = "reg-sample"
    code, err, _ = register(at, registry_params(at, name), scores_file(at, "h", 0.2), new_run(at, "h"))
    assert code == 0, err
    elsewhere = tmp_path / "elsewhere"  # no project files: only the tracking server
    elsewhere.mkdir()
    env = {**cli_env(), "MLFLOW_TRACKING_URI": uri}
    result = subprocess.run([sys.executable, "-m", "rgan", "sample", "--model", f"models:/{name}@champion", "-n", "50", "--seed", "3", "--out", "s.parquet"],
                            cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert run("sample", "-n", "50", "--seed", "3", "--out", str(tmp_path / "f.parquet"), cwd=at)[0] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(elsewhere / "s.parquet"), pd.read_parquet(tmp_path / "f.parquet"))

    result = subprocess.run([sys.executable, "-m", "rgan", "sample", "--model", f"models:/{name}@nope", "-n", "5", "--out", "t.csv"],
                            cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "nope" in result.stderr
    assert not (elsewhere / "t.csv").exists()


def test_evaluate_refuses_a_run_from_another_tracking_store(at, monkeypatch, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    MlflowClient(other).search_experiments()  # a real, other store (a missing one is refused earlier, for that)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", other)
    code, err = run("evaluate", "--metrics", str(tmp_path / "eval.json"), "--plots", str(tmp_path / "plots"), cwd=at)
    assert code != 0 and "tracking URI is now" in err
    assert not (tmp_path / "eval.json").exists()


def test_a_file_store_uri_is_refused_before_training(workdir, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(workdir / "mlruns"))
    code, err = run("train", cwd=workdir)
    assert code != 0 and "is a file store" in err
    assert not (workdir / "models/generator.pt").exists()


def test_a_run_file_never_describes_another_generator(at, tmp_path):
    saved = (at / "models/mlflow_run.json").read_text()
    write_params(at / "other.yaml", tiny(train={"seed": 1}))
    out = ["--generator", str(tmp_path / "g.pt"), "--checkpoints", str(tmp_path / "ck"), "--log", str(tmp_path / "log.tsv"),
           "--metrics", str(tmp_path / "t.json"), "--run-file", str(tmp_path / "run.json")]
    (tmp_path / "run.json").write_text(saved)
    assert run("train", "--params", "other.yaml", "--no-mlflow", *out, cwd=at)[0] == 0
    assert not (tmp_path / "run.json").exists()  # untracked training removes the stale run file

    (tmp_path / "run.json").write_text(saved)  # and if one is put back by hand, evaluate refuses the pair
    code, err = run("evaluate", "--generator", str(tmp_path / "g.pt"), "--run-file", str(tmp_path / "run.json"),
                    "--metrics", str(tmp_path / "e.json"), "--plots", str(tmp_path / "plots"), cwd=at)
    assert code != 0 and "belongs to another generator" in err and not (tmp_path / "e.json").exists()


def test_credentials_in_the_uri_reach_the_server_but_no_message(project, monkeypatch):
    root, uri = project
    if not uri.startswith("http"):
        pytest.skip("a server URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.replace("http://", "http://alice:s3cret@"))
    code, err = run("promote", "--params", registry_params(root, "nobody"), "--version", "1", cwd=root)
    assert code == 1 and "has no version 1" in err, err
    assert "s3cret" not in err and "alice" not in err


def test_reading_commands_do_not_create_an_empty_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # a project root without a store yet
    write_params(tmp_path / "params.yaml", TINY)
    for command in (["models"], ["promote", "--rollback"], ["sample", "--model", "models:/m@champion", "-n", "1", "--out", "s.csv"]):
        code, err = run(*command, cwd=tmp_path)
        assert code == 1 and "no MLflow store here" in err, err
    assert not (tmp_path / "mlflow.db").exists()


def test_register_records_the_registry_settings_on_the_run_replacing_older_ones(at):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    name = "reg-settings"
    run_file = new_run(at, "settings")
    run_id = json.loads((at / run_file).read_text())["run_id"]
    gated = registry_params(at, name, gates={"memorization_pass": True, "discriminative": {"max": 0.15}})
    assert register(at, gated, scores_file(at, "s1", 0.1), run_file)[0] == 0
    tags = client_for(uri).get_run(run_id).data.tags
    assert tags["registry.model_name"] == name and tags["registry.gates.discriminative.max"] == "0.15"
    assert tags["registry.gates.discriminative.min"] == "null" and tags["registry.auto_promote"] == "True"

    code, err, _ = register(at, registry_params(at, name, direction="maximize"), scores_file(at, "s2", 0.1), run_file)
    assert code == 0, err
    tags = client_for(uri).get_run(run_id).data.tags
    assert tags["registry.direction"] == "maximize" and tags["registry.gates.memorization_pass"] == "True"
    assert not [key for key in tags if key.startswith("registry.gates.discriminative")]  # that gate is gone
    assert not [key for key in client_for(uri).get_run(run_id).data.params if key.startswith("registry.")]


def test_kserve_manifest_serves_the_champion_version_in_the_project_image(at):
    import subprocess
    import sys

    import yaml

    name = "kserved"
    params = registry_params(at, name)
    for run_name, score in (("k1", 0.30), ("k2", 0.20)):  # v2 becomes champion
        assert register(at, params, scores_file(at, run_name, score), new_run(at, run_name))[0] == 0
    proc = subprocess.run([sys.executable, "-m", "rgan", "kserve", "--params", params, "--image", "registry.example.com/rgan:1"],
                          cwd=at, env=cli_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    manifest = yaml.safe_load(proc.stdout)
    assert manifest["kind"] == "InferenceService" and manifest["metadata"]["name"] == name
    (container,) = manifest["spec"]["predictor"]["containers"]
    assert container["image"] == "registry.example.com/rgan:1"
    assert container["command"][:5] == ["mlflow", "models", "serve", "-m", f"models:/{name}/2"]  # the champion, pinned
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert secret_env["MLFLOW_TRACKING_URI"] == {"name": "mlflow-tracking", "key": "MLFLOW_TRACKING_URI"}
    assert secret_env["MLFLOW_TRACKING_PASSWORD"]["optional"] is True
    assert manifest["metadata"]["annotations"]["rgan/git-commit"] == client_for(os.environ["MLFLOW_TRACKING_URI"]).get_model_version(
        name, "2").tags["rgan.git_commit"]
    bad = subprocess.run([sys.executable, "-m", "rgan", "kserve", "--params", params, "--alias", "nope"], cwd=at, env=cli_env(),
                         capture_output=True, text=True)
    assert bad.returncode == 1 and f"no version of {name} has the alias 'nope'" in bad.stderr and "Traceback" not in bad.stderr
