"""A KServe InferenceService for a registered version, rendered from the registry: the project image serving
`models:/NAME/VERSION` with `mlflow models serve` (MLflow's scoring protocol: POST /invocations, GET /ping).

The version is resolved when rendering (an alias moved later does not change what is deployed: render again).
KServe's built-in `mlflow` runtime (MLServer) does not have rgan installed, which the pyfunc model imports, so the
predictor is the project image itself, as the container tests run it."""

from __future__ import annotations

from rgan.config import Params
from rgan.errors import RganError
from rgan.kubeflow.secrets import MLFLOW_KEYS, MLFLOW_OPTIONAL_KEYS

PORT = 8080


def inference_service(params: Params, version: str, commit: str, image: str | None = None) -> dict:
    name, k = params.registry.model_name, params.kubeflow
    resources = k.resources["register"]  # serving is as light as registering: one CPU, small memory
    env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": k.mlflow_secret, "key": key, **({"optional": True} if optional else {})}}}
           for keys, optional in ((MLFLOW_KEYS, False), (MLFLOW_OPTIONAL_KEYS, True)) for key in keys]
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "annotations": {"rgan/model-version": str(version), "rgan/git-commit": commit}},
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
    from mlflow.exceptions import MlflowException

    name = params.registry.model_name
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        raise RganError(f"no version of {name} has the alias '{alias}' (see `rgan models`)") from None
    commit = version.tags.get("rgan.git_commit", "unknown")
    return yaml.safe_dump(inference_service(params, version.version, commit, image), sort_keys=False)
