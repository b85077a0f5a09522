"""A KServe InferenceService for a registered version, rendered from the registry: the project image serving
`models:/NAME/VERSION` with `mlflow models serve` (MLflow's scoring protocol: POST /invocations, GET /ping).

The version is resolved when rendering (an alias moved later does not change what is deployed: render again).
KServe's built-in `mlflow` runtime (MLServer) does not have rgan installed, which the pyfunc model imports, so the
predictor is the project image itself, as the container tests run it."""

from __future__ import annotations

import re

from rgan.config import Params
from rgan.errors import RganError
from rgan.kubeflow.secrets import MLFLOW_KEYS, MLFLOW_OPTIONAL_KEYS, STORAGE_KEYS

PORT = 8080


def inference_service(params: Params, version: str, commit: str, image: str | None = None) -> dict:
    name, k = params.registry.model_name, params.kubeflow
    resources = k.resources["register"]  # serving is as light as registering: one CPU, small memory
    secrets = [(k.mlflow_secret, MLFLOW_KEYS, False), (k.mlflow_secret, MLFLOW_OPTIONAL_KEYS, True)]
    if k.storage_secret:  # the model's artifacts in an object store, as the pipeline's steps read them
        secrets.append((k.storage_secret, STORAGE_KEYS, True))
    env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, **({"optional": True} if optional else {})}}}
           for secret, keys, optional in secrets for key in keys]
    # a Kubernetes name (DNS-1123 label): registry.model_name may hold capitals, dots and underscores
    service = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].rstrip("-") or "rgan"
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": service, "annotations": {"rgan/model-version": str(version), "rgan/git-commit": commit}},
        "spec": {"predictor": {"containers": [{
            "name": "kserve-container",
            "image": image or k.image,
            "command": ["mlflow", "models", "serve", "-m", f"models:/{name}/{version}", "--env-manager", "local",
                        "--host", "0.0.0.0", "--port", str(PORT)],
            "env": [*env, {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"}],
            "ports": [{"containerPort": PORT, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/ping", "port": PORT}},
            "resources": {"requests": {"cpu": resources.cpu, "memory": resources.memory},
                          "limits": {"cpu": resources.cpu, "memory": resources.memory}},
        }]}},
    }


def render(client, params: Params, alias: str, image: str | None = None) -> str:
    import yaml

    from rgan.tracking.connection.failures import tracking_errors
    from rgan.tracking.registry import version_by_alias

    name = params.registry.model_name
    with tracking_errors(f"looking up {name}@{alias}"):  # a server error stays one line, and is not "no such alias"
        version = version_by_alias(client, name, alias)
    if version is None:
        raise RganError(f"no version of {name} has the alias '{alias}' (see `rgan models`)")
    commit = version.tags.get("rgan.git_commit", "unknown")
    return yaml.safe_dump(inference_service(params, version.version, commit, image), sort_keys=False)
