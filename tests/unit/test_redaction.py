"""Credentials never reach a message: redaction with a URL parser, the URI check before use, tracking failures as one
redacted line."""

from __future__ import annotations

import pytest

from rgan.config import MlflowConfig
from rgan.errors import RganError
from rgan.tracking.connection.connect import connect
from rgan.tracking.connection.redaction import redact

# (text, fragments of the secret that must not survive, text that must survive: host, port, path, the message)
REDACT = [
    # passwords holding characters that end a URL's authority early, or an extra @
    ("http://user:p@ss@host:5000", ("user", "p@ss", "ss@"), ("host:5000",)),
    ("http://user:pa/ss@host", ("user", "pa/ss", "ss@", ":pa"), ("host",)),
    ("http://user:pa/ss@127.0.0.1:5000/api", ("pa/ss", "ss@", ":pa"), ("127.0.0.1:5000/api",)),
    ("http://user:x:y@host:5000", ("x:y", ":y"), ("host:5000",)),
    ("http://user:50%off@host", ("50%off", "off@"), ("host",)),
    ("http://user:wh?at@host:5000/p?q=1", ("wh?at", "at@"), ("host:5000/p?q=1",)),
    ("http://user:ha#sh@host:5000", ("ha#sh", "sh@"), ("host:5000",)),
    ("http://alice:12/s3cr3t@host:5000", ("alice", "s3cr3t", ":12"), ("host:5000",)),  # a "port" that parses
    ("http://al/ice@host", ("al/ice", "ice@"), ("host",)),  # a user name alone
    ("http://token@host:8080", ("token",), ("host:8080",)),
    # percent-encoded passwords: neither form may show
    ("http://user:p%40ss@host:5000", ("p%40ss", "p@ss", "%40"), ("host:5000",)),
    ("http://user:pa%2Fss@host:5000", ("pa%2Fss", "%2F"), ("host:5000",)),
    ("http://user:a%3Ab@host:5000", ("a%3Ab", "%3A"), ("host:5000",)),
    ("http://user:100%25@host:5000", ("100%25", "%25"), ("host:5000",)),
    # other schemes
    ("https://user:s3cret@mlflow.example.com/path", ("s3cret",), ("https://", "mlflow.example.com/path")),
    ("postgresql://dbuser:pg/pw@db.internal:5432/mlflow", ("pg/pw", "dbuser"), ("db.internal:5432/mlflow",)),
    ("mysql+pymysql://root:my@pw@db:3306/mlflow", ("my@pw", "root"), ("mysql+pymysql://", "db:3306/mlflow")),
    ("git+https://ghp_tok3n@github.com/org/repo", ("ghp_tok3n",), ("github.com/org/repo",)),
    ("HTTP://User:Secr3t@Host:5000", ("Secr3t", "User"), ("Host:5000",)),
    # inside longer messages, quotes and parentheses
    ("MLflow tracking server http://user:pa/ss@127.0.0.1:5000 is unreachable (refused)",
     ("pa/ss", "ss@"), ("127.0.0.1:5000", "is unreachable (refused)")),
    ("Invalid URL 'http://user:s3cret@h': No host supplied", ("s3cret", "user"), ("'http://***@h': No host supplied",)),
    ('Invalid URL "http://user:s3cret@h/x"', ("s3cret",), ('"http://***@h/x"',)),
    ("(Caused by ProxyError('http://user:s3cret@proxy:3128'))", ("s3cret",), ("proxy:3128'))",)),
    ("failed (http://user:p/w@host:5000/health)", ("p/w", "w@"), ("host:5000/health)",)),
    ("url=http://user:s3cret@host:5000, retrying", ("s3cret",), ("host:5000, retrying",)),
    ("Invalid URL 'http://user:it's@h'", ("it's", "s@", "user"), ("h'",)),  # a quote inside the password
    # several URLs in one text
    ("from http://a:s3cret@h1:1 to https://b:t0p/s3cret@h2:2/x", ("s3cret", "t0p", "a:", "b:"), ("h1:1 to https://", "h2:2/x")),
    ("'http://h1/x','http://u:s3cret@h2'", ("s3cret",), ("'http://h1/x'", "h2'")),
    # a secret cut short (no host at all): hidden too
    ("http://user:s3cret", ("s3cret", "user"), ("http://",)),
    ("http://user:s3/cret is not a server", ("s3", "cret"), ("is not a server",)),
]


UNCHANGED = [
    "http://127.0.0.1:5000",
    "https://mlflow.example.com:443/api/2.0/mlflow/runs/get?run_id=abc#frag",
    "http://[::1]:5000/health",
    "sqlite:////tmp/mlflow.db",
    "sqlite:///relative/mlflow.db",
    "sqlite:////tmp/odd@name/mlflow.db",  # no authority, so an @ in the path is no user name
    "postgresql://db.internal:5432/mlflow",
    "s3://bucket/path/to/artifacts",
    "models:/generator@champion and runs:/abc/model",
    "no URL here: user@example.com, a:b@c",
    "file:///home/me/mlruns",
    "HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded with url: /api/2.0/x",
    "Invalid URL 'http://h:5000/x': No schema supplied (see (http://h/y))",
    "",
]


@pytest.mark.parametrize(("text", "secrets", "kept"), REDACT, ids=[c[0][:40] for c in REDACT])
def test_redact_hides_every_part_of_the_credentials(text, secrets, kept):
    out = redact(text)
    for secret in secrets:
        assert secret not in out, out
    for part in kept:
        assert part in out, out
    assert "***" in out
    assert redact(out) == out  # idempotent: redacting twice changes nothing more


@pytest.mark.parametrize("text", UNCHANGED)
def test_urls_without_credentials_are_unchanged(text):
    assert redact(text) == text


def test_redact_keeps_the_host_of_a_url_with_credentials():
    assert redact("http://user:pa/ss@127.0.0.1:5000/api?x=1") == "http://***@127.0.0.1:5000/api?x=1"
    assert redact("see 'https://u:p@ss@h:1' and http://h2") == "see 'https://***@h:1' and http://h2"


def test_the_uri_is_checked_before_anything_uses_it(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:pa/ss@127.0.0.1:5000")
    with pytest.raises(RganError, match=r"MLFLOW_TRACKING_URI=http://\*\*\*@127\.0\.0\.1:5000 is not a valid URI") as caught:
        connect(MlflowConfig(), create=True)
    assert "pa/ss" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_unencoded_at_in_the_password_still_passes_the_check():
    # Python and requests both split user:p@ss@host at the last @, so this URI is usable: no error for it
    from rgan.tracking.connection.uri_check import validated_scheme

    assert validated_scheme("http://user:p@ss@127.0.0.1:5000") == "http"
    assert validated_scheme("https://user:p%2Fss@mlflow.example.com/prefix") == "https"


def test_a_missing_sqlite_store_is_created_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/new/mlflow.db")
    with pytest.raises(RganError, match="no MLflow store exists at"):
        connect(MlflowConfig(), create=False)
    assert not (tmp_path / "new").exists()
    from rgan.tracking.connection.uri import sqlite_file

    assert sqlite_file("sqlite:///:memory:") is None and sqlite_file("sqlite://") is None
    assert sqlite_file(f"sqlite:///{tmp_path}/a%20b.db") == tmp_path / "a b.db"
    assert sqlite_file("postgresql://h/db") is None
