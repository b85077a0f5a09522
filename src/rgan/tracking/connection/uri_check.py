"""Whether the tracking URI can be used at all: the one place it is checked, so a bad one is one line, not a traceback."""

from __future__ import annotations

import re
import urllib.parse

from rgan.errors import RganError
from rgan.tracking.connection.redaction import redact

ENCODE_HINT = (
    "percent-encode special characters of the credentials in it (/ as %2F, @ as %40, : as %3A, % as %25), "
    "or give them as MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
)


def validated_scheme(uri: str) -> str:
    """The URI's scheme, after checking that an http(s) URI can be used at all: a port that is no number,
    an empty host or an @ after the host are what an unencoded /, @, ? or # in a password does to it."""
    shown = redact(re.sub(r"\s", "%20", uri.strip()))
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as exc:  # an unbalanced [ or ] in the host
        raise RganError(f"MLFLOW_TRACKING_URI={shown} is not a valid URI ({exc}): {ENCODE_HINT}") from None
    if parts.scheme not in ("http", "https"):
        return parts.scheme
    problem = None
    try:
        parts.port
    except ValueError:
        problem = "its port is not a number from 0 to 65535"
    if problem is None and not parts.hostname:
        problem = "it has no host"
    if problem is None and "@" in uri.split("://", 1)[-1][len(parts.netloc):]:
        problem = "an @ follows its host"
    if problem is None and re.search(r"\s", uri.strip()):
        problem = "it contains whitespace"
    if problem is not None:
        raise RganError(f"MLFLOW_TRACKING_URI={shown} is not a valid URI: {problem}. Check it, and {ENCODE_HINT}")
    return parts.scheme
