"""Compile the Kubeflow pipelines, override their parameters, run them locally with kfp.local.

The pipeline definitions live in the project's pipelines/ and components/ (thin KFP wrappers beside src/), installed
with rgan as rgan_pipelines and rgan_components, so `rgan pipeline` works from any folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from rgan.config import KINDS, SECTIONS, Params, _Yaml12Loader, parse_params
from rgan.errors import RganError
from rgan.kubeflow.document import document
from rgan.tuning.space import planned_trials

# pyproject.toml's entry point to the pipeline definitions (pipelines/, installed as rgan_pipelines): found there,
# never imported by name, so dependencies point one way (pipelines -> components -> rgan).
ENTRY_POINT_GROUP, ENTRY_POINT = "rgan.pipelines", "rgan"
# What --param may set: a key of the sections the steps read, the data source (kubeflow.source), or with --sweep
# a `tune` setting. The rest of kubeflow (image, resources, secrets) is placement, fixed at compile time.
OVERRIDABLE = tuple(section for section in SECTIONS if section not in ("tune", "kubeflow"))


def pipeline_function(params: Params, sweep: bool, image: str | None = None):
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINT_GROUP, name=ENTRY_POINT)
    if not found:
        raise RganError(f"the Kubeflow pipeline definitions are not installed (no entry point {ENTRY_POINT!r} in group "
                        f"{ENTRY_POINT_GROUP!r}): reinstall rgan, `pip install .` or `pip install -e .` in a clone")
    entry = found[ENTRY_POINT]
    try:
        build = entry.load()
    except ImportError as exc:
        raise RganError(f"cannot load the Kubeflow pipeline definitions ({entry.value}): {exc}; reinstall rgan, "
                        "`pip install .` or `pip install -e .` in a clone") from None
    return build(params, image=image, sweep=sweep)


def pipeline_defaults(params: Params, sweep: bool) -> dict[str, Any]:
    """The pipeline parameters' values for these params: the params document and, for the sweep, its trials (the
    same planned trials `rgan tune` runs with tune.sampler random), one JSON document each."""
    values: dict[str, Any] = {"params": document(params)}
    if sweep:
        values["configurations"] = [json.dumps(trial) for trial in planned_trials(params.tune)]
    return values


def _parse_assignment(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RganError(f"--param {text!r}: expected KEY=VALUE, e.g. train.steps=500 or source.uri=s3://bucket/data.csv")
    try:
        value = yaml.load(raw, Loader=_Yaml12Loader) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise RganError(f"--param {key}: value is not valid YAML: {exc}") from None
    return key.strip().split("."), value


def apply_overrides(params: Params, assignments: list[str], sweep: bool) -> tuple[Params, dict[str, Any]]:
    """Params with `section.key=value` assignments applied and validated, and the pipeline arguments that carry them:
    the whole params document, and with a tune setting changed the sweep's trials."""
    kinds = [value for path, value in map(_parse_assignment, assignments) if path == ["model", "kind"]]
    if kinds and isinstance(kinds[-1], str) and kinds[-1] in KINDS:
        params = params.for_kind(kinds[-1])  # a new kind first: its own settings, so the other assignments can set them
    raw = params.model_dump(mode="json")
    heads = [*OVERRIDABLE, "source"] + (["tune"] if sweep else [])
    allowed = ", ".join(heads)
    changed = set()
    for text in assignments:
        path, value = _parse_assignment(text)
        head = path[0]
        if head not in heads or len(path) < 2:
            raise RganError(f"--param {text.partition('=')[0]}: not a pipeline parameter (allowed: {allowed}, as SECTION.KEY=VALUE)")
        node = raw["kubeflow"]["source"] if head == "source" else raw[head]
        for part in path[1:-1]:
            if not isinstance(node.get(part), dict):
                raise RganError(f"--param {'.'.join(path)}: {part} is not a group of settings")
            node = node[part]
        node[path[-1]] = value
        changed.add(head)
    checked = parse_params(raw, "--param")
    values = pipeline_defaults(checked, sweep)  # for the sweep, also checks that its trials can be planned
    arguments = {"params": values["params"]} if changed else {}
    if "tune" in changed:
        arguments["configurations"] = values["configurations"]
    return checked, arguments


def compile_pipeline(params: Params, out: str | Path, sweep: bool = False, image: str | None = None) -> Path:
    from kfp import compiler

    from rgan.atomic import atomic_path

    out = Path(out)
    func = pipeline_function(params, sweep, image)
    with atomic_path(out) as tmp:
        package = tmp.with_name(tmp.name + ".yaml")  # kfp picks the format from the suffix
        try:
            compiler.Compiler().compile(func, str(package))
            package.replace(tmp)
        finally:
            package.unlink(missing_ok=True)
    return out


def _local_sources(params: Params) -> list[str]:
    """Folders of a data source on this machine (a file:// or absolute-path URI, a DVC repository's path)."""
    folders = []
    for value in (params.kubeflow.source.uri, params.kubeflow.source.repo):
        if value and (value.startswith("file://") or value.startswith("/")):
            path = Path(value.removeprefix("file://")).resolve()
            folders.append(str(path if path.is_dir() else path.parent))
    return folders


def _container_runner(image: str, tracking: str, sources: list[str]):
    """kfp.local's DockerRunner as this machine's steps need it: the project folder mounted at its own path and used
    as the working directory (data.path, a local DVC repository resolve as they do here), an embedded MLflow store's
    folder and a local data source's folder (read-only) at their paths, the host's network (a tracking server on
    127.0.0.1 is reachable), this user's ids (outputs under --root stay yours), and the tracking URI and credentials
    passed on. On a cluster, secrets and volumes do this instead."""
    import os

    import docker
    from docker.types import Mount
    from kfp import local

    from rgan.kubeflow.secrets import MLFLOW_OPTIONAL_KEYS, STORAGE_KEYS
    from rgan.tracking.connection.root import project_root
    from rgan.tracking.connection.uri import sqlite_file

    where = os.environ.get("DOCKER_HOST") or "the default Docker socket"
    try:  # the engine and the image first: kfp.local would fail on either with a traceback
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        raise RganError(f"no container engine answers at {where} ({str(exc).splitlines()[0][:160]}): start one (e.g. "
                        "`podman system service --time=0 unix:///run/podman/podman.sock &`) and set DOCKER_HOST") from None
    try:
        engine.images.get(image)
    except docker.errors.DockerException:
        raise RganError(f"image {image} is not in the container engine at {where}: build it (`bash .ci/image`) or pull it") from None
    cwd, project = str(Path.cwd().resolve()), str(project_root())
    store = sqlite_file(tracking)
    writable = dict.fromkeys([cwd, project, *([str(store.resolve().parent)] if store else [])])
    mounts = [Mount(target=f, source=f, type="bind") for f in writable]
    mounts += [Mount(target=f, source=f, type="bind", read_only=True) for f in sources if f not in writable]
    # what the cluster's secrets would give a step: the tracking URI, MLflow credentials, object-store keys
    passed = {k: os.environ[k] for k in (*MLFLOW_OPTIONAL_KEYS, *STORAGE_KEYS) if k in os.environ}
    environment = {"MLFLOW_TRACKING_URI": tracking, **passed}
    # entrypoint cleared: the step's command replaces the image's `rgan` entrypoint, as a pod's command does
    return local.DockerRunner(entrypoint=[""], network_mode="host", user=f"{os.getuid()}:{os.getgid()}", working_dir=cwd,
                              mounts=mounts, environment=environment)


def run_local(params: Params, arguments: dict[str, Any], sweep: bool, root: str | Path, image: str | None = None) -> dict:
    """Run the whole pipeline here with kfp.local: each component in a subprocess of this Python, or with `image`
    in that image through a Docker-compatible engine (DOCKER_HOST, e.g. `podman system service`)."""
    from kfp import local

    from rgan.kubeflow.local_container import steps_keep_their_exit_status
    from rgan.tracking.connection import connect

    func = pipeline_function(params, sweep, image)
    # Reach the tracking store first: fail in seconds if it is down, and create an embedded store's tables once
    # here, not in two parallel sweep steps at the same moment (SQLite schema creation races).
    connect(params.mlflow)
    if image:
        from rgan.tracking.connection.uri import tracking_uri

        runner = _container_runner(image, tracking_uri(), _local_sources(params))
    else:
        runner = local.SubprocessRunner(use_venv=False)
    local.init(runner=runner, pipeline_root=str(Path(root).resolve()), raise_on_error=True)
    try:
        with steps_keep_their_exit_status():  # a no-op for the subprocess runner
            task = func(**arguments)
    except RuntimeError as exc:  # kfp.local's "Pipeline ... finished with status FAILURE": the step's log says why
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # kfp.local colours its messages
        raise RganError(f"the local pipeline run failed: {plain} (its log is above; outputs under {root})") from None
    return json.loads(task.output)
