"""Credentials out of text: the user:password@ of every URL in a message, log line or file is replaced by ***@."""

from __future__ import annotations

import re
import urllib.parse

# The start of a URL-like token (scheme://), and where such a token ends in running text: at whitespace, or
# also at a quote or angle bracket when it sits inside a message such as "Invalid URL 'http://...'".
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_NARROW_END = re.compile(r"[\s'\"`<>]")
_WIDE_END = re.compile(r"\s")


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
