"""Which tracking server, and failing fast when it cannot be reached.

The URI is MLFLOW_TRACKING_URI when set, else a SQLite file in the project root (the nearest directory up
from here holding dvc.yaml or .git), so `dvc repro` tracks runs with no server. Credentials
(MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/_PASSWORD) are read by MLflow from the environment; they
are never settings or code, and a user:password@ in the URI is kept out of messages and files.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from rgan.config import MlflowConfig
from rgan.errors import RganError

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"
# The start of a URL-like token (scheme://), and where such a token ends in running text: at whitespace, or
# also at a quote or angle bracket when it sits inside a message such as "Invalid URL 'http://...'".
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_NARROW_END = re.compile(r"[\s'\"`<>]")
_WIDE_END = re.compile(r"\s")
_ENCODE_HINT = (
    "percent-encode special characters of the credentials in it (/ as %2F, @ as %40, : as %3A, % as %25), "
    "or give them as MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
)


def project_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "dvc.yaml").is_file() or (directory / ".git").exists():
            return directory
    return here


def default_tracking_uri() -> str:
    return f"sqlite:///{project_root() / DEFAULT_DB}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def is_embedded_default() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def redact(text: str) -> str:
    """`text` with the user:password@ of every URL in it replaced by ***@, fit for logs and files.

    Host, port and path stay, so messages remain useful. The userinfo is everything between :// and the
    last @ of the URL, which also covers passwords holding an unencoded @, /, ? or # (those make a URL
    parser end the authority early, so an @ anywhere later in the token still counts as the end of the
    credentials: wrongly hiding a host is better than showing a password)."""
    out, pos = [], 0
    while match := _SCHEME.search(text, pos):
        start = match.end()
        cut = _userinfo_end(text, match.group(0), start)
        if cut is None:
            out.append(text[pos:start])
            pos = start
        elif text[cut] == "@":
            out.append(text[pos:start] + "***@")
            pos = cut + 1
        else:  # user:secret with no @ and no host after it: hide the whole token
            out.append(text[pos:start] + "***")
            pos = _end(_NARROW_END, text, start)
    out.append(text[pos:])
    return "".join(out)


def _end(pattern: re.Pattern, text: str, start: int) -> int:
    found = pattern.search(text, start)
    return found.start() if found else len(text)


def _userinfo_end(text: str, scheme: str, start: int) -> int | None:
    """For the URL whose authority begins at text[start]: the index of the @ ending its credentials; `start`
    itself when the token looks like credentials cut short (a port that is no number, no @ after it); None
    when it holds no credentials."""
    narrow = text[start:_end(_NARROW_END, text, start)]
    if narrow.startswith("/"):
        return None  # no authority (sqlite:///path, file:///path): nothing to hide, even if the path has an @
    at = narrow.rfind("@")
    if at >= 0:
        return start + at
    if _port_ok(scheme + narrow):
        return None
    # "user:secret" with no @ in the token: a quote inside the secret may have cut the token short
    at = text.rfind("@", start, _end(_WIDE_END, text, start))
    return at if at >= 0 else start


def _port_ok(url: str) -> bool:
    """Whether the port of `url`'s authority, if it has one, is a number."""
    try:
        netloc = urllib.parse.urlsplit(url).netloc
    except ValueError:  # an unbalanced [ or ]
        return False
    after_host = netloc.rsplit("@", 1)[-1]
    after_host = after_host[after_host.find("]") + 1:]  # past an IPv6 [address]
    port = after_host.partition(":")[2]
    return port == "" or port.isdigit()


def _ssl_context() -> ssl.SSLContext | None:
    # The probe honours MLflow's own TLS settings, so it agrees with the client about the server.
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        return ssl._create_unverified_context()  # noqa: S323 - the user asked for it, as MLflow allows
    cafile = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=cafile) if cafile else None


def _check_reachable(uri: str, timeout: float) -> None:
    """One quick request to the server's /health, so a wrong URI fails in seconds instead of after MLflow's retries."""
    parts = urllib.parse.urlsplit(uri)
    try:
        bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        request = urllib.request.Request(bare.rstrip("/") + "/health")
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
        with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context()):  # noqa: S310 - http(s) only
            return
    except urllib.error.HTTPError:
        return  # it answered: a server (perhaps behind auth or without /health) is there
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RganError(
            f"MLflow tracking server {redact(uri)} is unreachable ({redact(str(reason))}). Start it, fix "
            "MLFLOW_TRACKING_URI, or unset it to track into the project's local mlflow.db"
        ) from None


def _validated_scheme(uri: str) -> str:
    """The URI's scheme, after checking that an http(s) URI can be used at all: a port that is no number,
    an empty host or an @ after the host are what an unencoded /, @, ? or # in a password does to it."""
    shown = redact(re.sub(r"\s", "%20", uri.strip()))
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as exc:  # an unbalanced [ or ] in the host
        raise RganError(f"MLFLOW_TRACKING_URI={shown} is not a valid URI ({exc}): {_ENCODE_HINT}") from None
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
        raise RganError(f"MLFLOW_TRACKING_URI={shown} is not a valid URI: {problem}. Check it, and {_ENCODE_HINT}")
    return parts.scheme


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite:///path URI (relative to the working directory, as SQLAlchemy reads it),
    or None for another URI or an in-memory database."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower().split("+")[0] != "sqlite" or not rest.startswith("/"):
        return None
    database = urllib.parse.unquote(rest[1:].split("?", 1)[0])
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def connect(cfg: MlflowConfig, create: bool = True):
    """Point MLflow at the tracking server (and registry), check it answers, and return an MlflowClient.
    With `create=False` (commands that only read), a missing SQLite store is an error, not a new empty one."""
    # Bounded retries: MLflow's defaults (7 retries, 120 s timeout) make a dead server look like a hang.
    # Variables the user set win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(cfg.request_timeout_s, 1))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # bars for 100 kB files are noise in logs
    uri = tracking_uri()
    scheme = _validated_scheme(uri)  # the one place the URI is checked: a bad one is one line, not a traceback
    if not create and is_embedded_default() and not (project_root() / DEFAULT_DB).is_file():
        raise RganError(
            f"no MLflow store here: {project_root() / DEFAULT_DB} does not exist. Run this in the project that "
            "trained the model, or set MLFLOW_TRACKING_URI to its tracking server"
        )
    database = _sqlite_file(uri)
    if not create and database is not None and not database.is_file():
        # MLflow would create the directory and an empty database, and then report "no such model"
        raise RganError(
            f"no MLflow store exists at {database} (from MLFLOW_TRACKING_URI={redact(uri)}). Set "
            "MLFLOW_TRACKING_URI to the store that holds the runs, or unset it to use the project's mlflow.db"
        )
    if scheme in ("http", "https"):
        _check_reachable(uri, cfg.request_timeout_s)
    elif scheme in ("", "file"):
        raise RganError(
            f"MLFLOW_TRACKING_URI={redact(uri)} is a file store, which recent MLflow refuses and which has no "
            "model registry: use a database (sqlite:///mlflow.db) or a server (http://host:5000)"
        )

    import mlflow

    # The registry lives with the runs. (set_registry_uri also exports MLFLOW_REGISTRY_URI to child processes.)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_error(action: str, exc: Exception) -> RganError:
    """An MLflow or network failure as one readable line, credentials removed."""
    message = getattr(exc, "message", None) or str(exc)
    message = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return RganError(redact(f"{action} failed at {tracking_uri()}: {message}"))
