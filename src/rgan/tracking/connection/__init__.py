"""Which tracking store, and reaching it. One job per module: `root` (the project root), `uri` (which URI),
`uri_check` (is it usable), `redaction` (credentials out of text), `http_settings` (MLflow's timeouts and
retries), `probe` (does the server answer), `failures` (MLflow errors as RganError), `connect` (all of it).

Credentials (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/_PASSWORD) are read by MLflow from the
environment; they are never settings or code, and a user:password@ in the URI is kept out of messages and files.
"""

from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.redaction import redact

__all__ = ["connect", "redact"]
