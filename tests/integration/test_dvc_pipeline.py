"""A real `dvc repro` of the project's dvc.yaml with tiny params, in a temporary git repository, tracking into
the embedded default MLflow store (sqlite:///mlflow.db in the repository)."""

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, TINY, cli_env, complete, tiny, write_params

from rgan.stages import STAGES


def sh(*args, cwd):
    result = subprocess.run(list(args), cwd=cwd, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the default a user gets
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(ROOT / ".dvcignore", tmp_path / ".dvcignore")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    write_params(tmp_path / "params.yaml", complete(TINY))
    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    sh("git", "add", "-A", cwd=tmp_path)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "project", cwd=tmp_path)
    return tmp_path


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_is_up_to_date(repo):
    out = sh("dvc", "repro", cwd=repo)
    for stage in STAGES:
        assert f"Running stage '{stage}'" in out
    for path in ("data/raw/sines.parquet", "data/raw/entities.parquet", "data/prepared/series.npy", "models/generator.pt", "metrics/eval.json", "plots/tsne.png",
                 "models/mlflow_run.json", "metrics/registry.json", "mlflow.db"):
        assert (repo / path).is_file(), path
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    check_mlflow(repo, lock)

    assert "Data and pipelines are up to date" in sh("dvc", "repro", cwd=repo)
    assert "discriminative.mean" in sh("dvc", "metrics", "show", cwd=repo)
    plots = json.loads(sh("dvc", "plots", "show", "--json", cwd=repo))["data"]
    assert all(plots[f"plots/{name}.png"][0]["type"] == "image" for name in ("pca", "tsne", "traces", "losses"))
    loss_points = plots["Losses"][0]["content"]["data"]["values"]
    assert len(loss_points) == 2 * 4 and {"step", "d_loss", "g_loss"} <= set(loss_points[0])  # 2 curves x 4 logged steps
    sh("dvc", "plots", "show", "-o", "html", cwd=repo)
    assert (repo / "html" / "index.html").is_file()

    # a change to `evaluate` re-scores without retraining
    run_id = json.loads((repo / "models/mlflow_run.json").read_text())["run_id"]
    write_params(repo / "params.yaml", complete(tiny(evaluate={"repeats": 1})))
    out = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'evaluate'" in out and "Running stage 'train'" not in out
    assert json.loads((repo / "metrics/eval.json").read_text())["repeats"] == 1
    # ... logs the new scores into the same run, and updates its registered version (no duplicate)
    registered = json.loads((repo / "metrics/registry.json").read_text())
    assert registered["version"] == 1 and registered["run_id"] == run_id
    # ... and the run shows the settings it was scored with now, not those of the first scoring
    run = mlflow_client(repo).get_run(run_id)
    assert run.data.tags["evaluate.repeats"] == "1" and run.data.params["train.steps"] == "20"


def mlflow_client(repo):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}", registry_uri=f"sqlite:///{repo / 'mlflow.db'}")


def check_mlflow(repo, lock):
    """The run has params, metrics, lineage and a model; version 1 is registered with its scores and is champion."""
    client = mlflow_client(repo)
    record = json.loads((repo / "models/mlflow_run.json").read_text())
    run = client.get_run(record["run_id"])
    assert run.data.params["train.steps"] == "20" and "eval/discriminative" in run.data.metrics and "train/g_loss" in run.data.metrics
    # each stage records the settings it read: train as params, evaluate and register as tags (they re-score the run)
    assert {key.split(".")[0] for key in run.data.params} == {"data", "model", "train", "mlflow"}
    assert run.data.tags["evaluate.repeats"] == "2" and run.data.tags["evaluate.device"] == "cpu"
    assert run.data.tags["registry.metric"] == "discriminative" and run.data.tags["registry.gates.memorization_pass"] == "True"
    prepared_md5 = next(o["md5"] for o in lock["stages"]["prepare"]["outs"] if o["path"] == "data/prepared")
    head = sh("git", "rev-parse", "HEAD", cwd=repo).strip()
    assert run.data.tags["rgan.data_md5"] == prepared_md5  # the same hash DVC recorded
    assert run.data.tags["rgan.git_commit"] == head and run.data.tags["rgan.git_dirty"] == "false"
    assert client.get_logged_model(record["model_id"]).source_run_id == record["run_id"]
    champion = client.get_model_version_by_alias("rgan-generator", "champion")
    assert str(champion.version) == "1" and champion.run_id == record["run_id"]
    scores = json.loads((repo / "metrics/eval.json").read_text())
    assert float(champion.tags["score.discriminative"]) == scores["discriminative"]["mean"]
    assert champion.tags["rgan.git_commit"] == head


@pytest.mark.slow
def test_failed_stage_fails_repro_and_leaves_no_output(repo):
    write_params(repo / "params.yaml", complete(tiny(data={"seq_len": 30})))  # sequences of 24 rows: no window fits
    result = subprocess.run(["dvc", "repro"], cwd=repo, env=cli_env(), capture_output=True, text=True)
    assert result.returncode != 0
    assert "shorter than data.seq_len = 30" in result.stderr + result.stdout
    assert not (repo / "data/prepared").exists()
