"""`rgan pipeline compile` away from a clone: the pipeline definitions (pipelines/, components/) come with the
installed package as rgan_pipelines and rgan_components, found through pyproject.toml's entry point, both when rgan
is installed editable (as .ci/install does) and as a wheel (as the Dockerfile does)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, cli_env
from test_image import instructions

from rgan.config import load_params
from rgan.kubeflow.document import parse_document


def _without_clone(pythonpath: str | None = None) -> dict:
    """cli_env() with no repository root on PYTHONPATH: nothing but the installed package can provide pipelines."""
    env = cli_env()
    entries = (pythonpath if pythonpath is not None else env.get("PYTHONPATH", "")).split(os.pathsep)
    kept = [e for e in entries if e and Path(e).resolve() != ROOT]
    env["PYTHONPATH"] = os.pathsep.join(kept)
    return env


def _compile_outside(workdir: Path, env: dict) -> dict:
    workdir.mkdir()
    (workdir / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    proc = subprocess.run([sys.executable, "-m", "rgan", "pipeline", "compile", "--out", "p.yaml"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    spec, _platform = yaml.safe_load_all((workdir / "p.yaml").read_text())
    params = load_params(workdir / "params.yaml")
    assert spec["pipelineInfo"]["name"] == params.kubeflow.pipeline_name
    assert parse_document(spec["root"]["inputDefinitions"]["parameters"]["params"]["defaultValue"]) == params
    executors = spec["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-prepare", "exec-train", "exec-evaluate", "exec-register"}
    for executor in executors.values():
        assert executor["container"]["image"] == params.kubeflow.image
        # the component's code as KFP embeds it: it calls rgan's step, the only import the image needs
        assert "from rgan.kubeflow.steps import" in " ".join(executor["container"]["command"])
    return spec


def test_compile_works_outside_the_clone_with_the_installed_package(tmp_path):
    assert not (tmp_path / "pipelines").exists() and ROOT not in tmp_path.parents
    _compile_outside(tmp_path / "elsewhere", _without_clone())


@pytest.mark.slow
def test_compile_works_with_the_wheel_built_from_what_the_dockerfile_copies(tmp_path):
    """`pip install .` of exactly the Dockerfile's COPY sources, into a folder that alone provides rgan: the wheel
    must hold rgan_pipelines and rgan_components (the source tree is gone afterwards, as in the image)."""
    context, site = tmp_path / "context", tmp_path / "site"
    context.mkdir()
    for keyword, rest in instructions():
        if keyword == "COPY":
            *sources, dest = shlex.split(rest)
            for source in sources:
                target = context / dest / Path(source).name if dest.endswith("/") else context / dest
                (shutil.copytree if (ROOT / source).is_dir() else shutil.copy)(ROOT / source, target)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(context)],
                          env=cli_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    shutil.rmtree(context)
    env = _without_clone(str(site))
    probe = "import rgan, rgan_components, rgan_pipelines; print(rgan.__file__, rgan_components.__file__, rgan_pipelines.__file__)"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert all(Path(f).is_relative_to(site) for f in loaded.stdout.split()), loaded.stdout  # the wheel's, not the clone's
    _compile_outside(tmp_path / "elsewhere", env)
