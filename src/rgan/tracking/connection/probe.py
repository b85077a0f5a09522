"""Whether a tracking server answers, asked through MLflow's own client: one cheap API call under MLflow's
timeout, retry and TLS settings (MLFLOW_HTTP_REQUEST_*, MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH) and credentials, so it agrees with every call after it. A wrong URI then
fails in seconds, before any work, with a line saying what to fix."""

from __future__ import annotations

from rgan.errors import RganError
from rgan.tracking.connection.failures import first_line
from rgan.tracking.connection.redaction import redact

_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN, "
                "or the user:password in MLFLOW_TRACKING_URI")


def check_reachable(uri: str) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except MlflowException as exc:
        raise RganError(redact(_explain(uri, exc))) from None


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions under it: MLflow wraps the network error without `from`, so follow both links."""
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def _explain(uri: str, exc: BaseException) -> str:
    import requests

    chain = _chain(exc)
    reason = first_line(chain[-1])  # the root: "[Errno 111] Connection refused", "certificate verify failed ..."
    server = f"MLflow tracking server {uri}"
    if any(isinstance(e, requests.exceptions.SSLError) for e in chain):
        return (f"{server} failed the TLS handshake ({reason}). Set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle "
                "that signed its certificate, or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification")
    if any(isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)) for e in chain):
        return (f"{server} is unreachable ({reason}). Start it, fix MLFLOW_TRACKING_URI, or unset it to track into "
                "the project's local mlflow.db")
    status = exc.get_http_status_code()
    if status == 401:
        return f"{server} refused the credentials (HTTP 401): check {_CREDENTIALS}"
    if status == 403:
        return f"{server} denied access (HTTP 403): the credentials ({_CREDENTIALS}) lack permission to read experiments"
    if status == 404:
        return f"{server} answered HTTP 404 to MLflow's API: is MLFLOW_TRACKING_URI an MLflow server, with the right path?"
    return f"{server} could not be queried: {first_line(exc)}"
