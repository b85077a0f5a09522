"""Submit a compiled pipeline to a Kubeflow Pipelines endpoint (KFP v2 REST, through kfp.Client)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rgan.config import Params
from rgan.errors import RganError
from rgan.tracking.connection import redact

TOKEN_ENV = "KFP_TOKEN"  # a bearer token for the KFP API (e.g. from `gcloud auth print-access-token` or a service account)
PROBE_TIMEOUT_S = 5.0


def _check_reachable(host: str) -> None:
    """Fail in seconds, with the address, before kfp.Client's retries: any HTTP answer means the host is there."""
    url = f"{host.rstrip('/')}/apis/v2beta1/healthz"
    try:
        urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return  # it answered (401, 404 ...): the API call below says what is wrong
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RganError(f"cannot reach Kubeflow Pipelines at {redact(host)}: {reason}") from None


def _api_error(exc: Exception) -> RganError:
    status = getattr(exc, "status", None)
    if status is not None:  # kfp_server_api.ApiException
        body = (getattr(exc, "body", "") or "").strip()
        hint = f" (set {TOKEN_ENV} to a valid token)" if status in (401, 403) else ""
        return RganError(f"Kubeflow Pipelines refused the request: HTTP {status} {getattr(exc, 'reason', '')}{hint}: {body[:500]}")
    return RganError(f"Kubeflow Pipelines request failed: {redact(str(exc))}")


def submit(params: Params, arguments: dict[str, Any], sweep: bool, host: str, namespace: str | None = None,
           experiment: str | None = None, run_name: str | None = None, image: str | None = None) -> dict:
    import kfp

    from rgan.kubeflow.pipeline import compile_pipeline

    _check_reachable(host)
    name = params.kubeflow.pipeline_name + ("-sweep" if sweep else "")
    with tempfile.TemporaryDirectory() as scratch:
        package = compile_pipeline(params, Path(scratch) / "pipeline.yaml", sweep=sweep, image=image)
        try:
            client = kfp.Client(host=host, existing_token=os.environ.get(TOKEN_ENV) or None, **({"namespace": namespace} if namespace else {}))
            with contextlib.redirect_stdout(sys.stderr):  # kfp prints its links; stdout carries only ours
                result = client.create_run_from_pipeline_package(
                    str(package), arguments=arguments, run_name=run_name or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}",
                    experiment_name=experiment or params.kubeflow.pipeline_name, namespace=namespace)
        except RganError:
            raise
        except Exception as exc:  # kfp_server_api.ApiException, urllib3 errors
            raise _api_error(exc) from None
    return {"run_id": result.run_id, "url": f"{host.rstrip('/')}/#/runs/details/{result.run_id}", "pipeline": name}
