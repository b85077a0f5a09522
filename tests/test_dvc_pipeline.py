"""A real `dvc repro` of the project's dvc.yaml with tiny params, in a temporary git repository."""

import json
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, TINY, cli_env, complete, tiny, write_params


def sh(*args, cwd):
    result = subprocess.run(list(args), cwd=cwd, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture
def repo(tmp_path):
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(ROOT / ".dvcignore", tmp_path / ".dvcignore")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    write_params(tmp_path / "params.yaml", complete(TINY))
    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    return tmp_path


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_is_up_to_date(repo):
    out = sh("dvc", "repro", cwd=repo)
    for stage in ("sines", "prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in out
    for path in ("data/raw/sines.parquet", "data/prepared/series.npy", "models/generator.pt", "metrics/eval.json", "plots/tsne.png"):
        assert (repo / path).is_file(), path
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"sines", "prepare", "train", "evaluate"}

    assert "Data and pipelines are up to date" in sh("dvc", "repro", cwd=repo)
    assert "discriminative.mean" in sh("dvc", "metrics", "show", cwd=repo)
    plots = json.loads(sh("dvc", "plots", "show", "--json", cwd=repo))["data"]
    assert all(plots[f"plots/{name}.png"][0]["type"] == "image" for name in ("pca", "tsne", "traces", "losses"))
    loss_points = plots["Losses"][0]["content"]["data"]["values"]
    assert len(loss_points) == 2 * 4 and {"step", "d_loss", "g_loss"} <= set(loss_points[0])  # 2 curves x 4 logged steps
    sh("dvc", "plots", "show", "-o", "html", cwd=repo)
    assert (repo / "html" / "index.html").is_file()

    # a change to `evaluate` re-scores without retraining
    write_params(repo / "params.yaml", complete(tiny(evaluate={"repeats": 1})))
    out = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'evaluate'" in out and "Running stage 'train'" not in out
    assert json.loads((repo / "metrics/eval.json").read_text())["repeats"] == 1


@pytest.mark.slow
def test_failed_stage_fails_repro_and_leaves_no_output(repo):
    write_params(repo / "params.yaml", complete(tiny(data={"seq_len": 30})))  # sequences of 24 rows: no window fits
    result = subprocess.run(["dvc", "repro"], cwd=repo, env=cli_env(), capture_output=True, text=True)
    assert result.returncode != 0
    assert "shorter than data.seq_len = 30" in result.stderr + result.stdout
    assert not (repo / "data/prepared").exists()
