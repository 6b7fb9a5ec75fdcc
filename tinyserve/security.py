"""Bearer-token authentication and the CORS allow-list, both off unless configured.

``Guard.screen`` runs first for every request, before routing, and either answers it (a CORS
preflight: 200 or 403; a missing or wrong token: 401) or lets it through; ``Guard.headers``
adds the CORS headers to whatever answer the request finally gets, errors included, so a
browser page can read them. The order is deliberate:

- A preflight is answered before authentication: browsers never send ``Authorization`` on one.
  Its answer is the same for every path (``GET, HEAD, POST``), so it tells nothing about routes.
  It is a 200 with an empty body, not a 204: waitress closes the connection after every 204.
- Authentication comes before routing: without the token, every path except the open health
  paths gets the same 401, so unknown paths (404), wrong methods (405) and redirects (307)
  reveal nothing about what the server serves. The app never reads an unauthenticated body
  (waitress has received it already, as it does before any WSGI app runs) and never scores it.

The token is compared with ``hmac.compare_digest``. CORS only tells browsers what they may read;
it is not access control for other clients (that is what the token is for). Standard library
only, like the rest of the serving core.
"""
from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tinyserve.errors import ModelLoadError, ScoringError
from tinyserve.responses import Headers, Response, json_response

logger = logging.getLogger("tinyserve")


OPEN_PATHS = frozenset({"/ping", "/health", "/live", "/ready"})  # exact paths, no token needed
TOKEN_FILE_ENV = "TINYSERVE_AUTH_TOKEN_FILE"
CORS_ENV = "TINYSERVE_CORS_ALLOW_ORIGINS"
CERTFILE_ENV = "TINYSERVE_SSL_CERTFILE"
KEYFILE_ENV = "TINYSERVE_SSL_KEYFILE"

_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: it has to fit in one header value
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+")  # scheme://host[:port], nothing after
CORS_METHODS = "GET, HEAD, POST"  # every method tinyserve answers, whatever the path
CORS_HEADERS = "Authorization, Content-Type, X-Request-ID"
CORS_EXPOSED = "X-Request-ID"
CORS_MAX_AGE = "600"

MISSING_TOKEN = "Authentication required: send the header 'Authorization: Bearer <token>'."
WRONG_TOKEN = "Invalid bearer token."
ORIGIN_REFUSED = "CORS preflight refused: the Origin is not in --cors-allow-origins."


class BearerAuth:
    """Requires ``Authorization: Bearer <token>`` on every path outside ``OPEN_PATHS``."""

    def __init__(self, token: str) -> None:
        self.token = token.encode("ascii")

    def refusal(self, environ: Dict[str, Any], path: str) -> Optional[Response]:
        """The 401 to answer instead, or ``None`` when the request may go on."""
        if path in OPEN_PATHS:
            return None
        scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            challenge, message = 'Bearer realm="tinyserve"', MISSING_TOKEN
        else:
            given = credentials.strip().encode("latin-1", "replace")  # WSGI headers are latin-1
            if hmac.compare_digest(given, self.token):
                return None
            challenge = 'Bearer realm="tinyserve", error="invalid_token"'
            message = WRONG_TOKEN
        body = ScoringError(message, "UNAUTHENTICATED").to_json()
        return json_response(401, body, [("WWW-Authenticate", challenge)])


class CorsPolicy:
    """An allow-list of exact origins, or every origin (``*``); credentials are never allowed."""

    def __init__(self, origins: Sequence[str]) -> None:
        self.any_origin = list(origins) == ["*"]
        self.origins = frozenset(origin.lower() for origin in origins)

    def allowed_origin(self, environ: Dict[str, Any]) -> Optional[str]:
        """The value for ``Access-Control-Allow-Origin``, or ``None`` for no CORS headers."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin.lower() in self.origins else None

    def preflight(self, environ: Dict[str, Any], method: str) -> Optional[Response]:
        """The answer to a preflight (OPTIONS with Origin and Access-Control-Request-Method)."""
        if method != "OPTIONS" or not environ.get("HTTP_ORIGIN") \
                or not environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return None
        if self.allowed_origin(environ) is None:
            body = ScoringError(ORIGIN_REFUSED, "PERMISSION_DENIED").to_json()
            return json_response(403, body)
        return 200, [("Content-Type", "text/plain"),
                     ("Access-Control-Allow-Methods", CORS_METHODS),
                     ("Access-Control-Allow-Headers", CORS_HEADERS),
                     ("Access-Control-Max-Age", CORS_MAX_AGE)], b""

    def headers(self, environ: Dict[str, Any]) -> Headers:
        """CORS headers for any answer; ``Vary: Origin`` whenever the answer depends on it."""
        vary = [] if self.any_origin else [("Vary", "Origin")]
        allowed = self.allowed_origin(environ)
        if allowed is None:
            return vary
        return [("Access-Control-Allow-Origin", allowed),
                ("Access-Control-Expose-Headers", CORS_EXPOSED), *vary]


class Guard:
    """Authentication and CORS together, in the order the module docstring explains."""

    def __init__(self, auth: Optional[BearerAuth] = None,
                 cors: Optional[CorsPolicy] = None) -> None:
        self.auth = auth
        self.cors = cors

    def screen(self, environ: Dict[str, Any], method: str, path: str) -> Optional[Response]:
        """The answer to send instead of routing the request, or ``None`` to route it."""
        if self.cors is not None:
            answer = self.cors.preflight(environ, method)
            if answer is not None:
                return answer
        if self.auth is not None:
            return self.auth.refusal(environ, path)
        return None

    def headers(self, environ: Dict[str, Any]) -> Headers:
        return self.cors.headers(environ) if self.cors is not None else []


def read_token(path: str) -> str:
    """The token in ``path``, surrounding whitespace stripped; one-line errors otherwise."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(65537)
    except OSError as error:
        raise ModelLoadError(f"Cannot read --auth-token-file {path}: "
                             f"{error.strerror or error}") from None
    token = raw.decode("latin-1").strip()  # any bytes decode; non-ASCII is refused below
    if not token:
        raise ModelLoadError(f"--auth-token-file {path} is empty.")
    if len(raw) > 65536 or not _TOKEN.fullmatch(token):
        raise ModelLoadError(f"--auth-token-file {path} must hold one token of visible ASCII "
                             "characters (no spaces inside), at most 64 KiB.")
    return token


def parse_origins(text: str) -> List[str]:
    """``--cors-allow-origins``: ``*`` alone, or a comma list of ``scheme://host[:port]``."""
    origins = [part.strip() for part in text.split(",") if part.strip()]
    if not origins:
        raise ModelLoadError("--cors-allow-origins is empty: give origins or '*'.")
    if "*" in origins:
        if len(origins) > 1:
            raise ModelLoadError("--cors-allow-origins: '*' cannot be combined with origins.")
        return origins
    for origin in origins:
        if not _ORIGIN.fullmatch(origin.lower()):
            raise ModelLoadError(f"--cors-allow-origins: {origin!r} is not an origin "
                                 "(scheme://host[:port], with no path or trailing slash).")
    return origins


def add_security_flags(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags for authentication, TLS and CORS; each defaults to its env var."""
    env = os.environ.get
    parser.add_argument("--auth-token-file", default=env(TOKEN_FILE_ENV) or None,
                        metavar="PATH",
                        help="require 'Authorization: Bearer <token>' (the token is this "
                             "file's content) on every path but /ping, /health, /live, /ready "
                             f"(default off, env {TOKEN_FILE_ENV})")
    parser.add_argument("--ssl-certfile", default=env(CERTFILE_ENV) or None, metavar="PATH",
                        help=f"serve HTTPS with this PEM certificate chain (env {CERTFILE_ENV})")
    parser.add_argument("--ssl-keyfile", default=env(KEYFILE_ENV) or None, metavar="PATH",
                        help=f"the unencrypted PEM private key for --ssl-certfile "
                             f"(env {KEYFILE_ENV})")
    parser.add_argument("--cors-allow-origins", default=env(CORS_ENV) or None,
                        metavar="ORIGINS",
                        help="answer CORS for these origins: a comma list of "
                             f"scheme://host[:port], or '*' (default off, env {CORS_ENV})")


def guard_from_settings(token_file: Optional[str], cors_origins: Optional[str]) -> Optional[Guard]:
    """The guard for these settings, or ``None`` when both are off."""
    auth = BearerAuth(read_token(token_file)) if token_file else None
    cors = CorsPolicy(parse_origins(cors_origins)) if cors_origins else None
    return Guard(auth, cors) if auth or cors else None


def guard_from_env() -> Optional[Guard]:
    """The guard the environment asks for (for the ``tinyserve.wsgi:application`` entry)."""
    return guard_from_settings(os.environ.get(TOKEN_FILE_ENV), os.environ.get(CORS_ENV))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_security(args: argparse.Namespace) -> Tuple[Optional[Guard], Any]:
    """The guard and the TLS context (or ``None``) for ``serve``'s flags, read in the parent
    before any worker starts, so a bad file stops start-up with one line."""
    guard = guard_from_settings(args.auth_token_file, args.cors_allow_origins)
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise ModelLoadError("--ssl-certfile and --ssl-keyfile go together: give both or "
                             "neither.")
    if not args.ssl_certfile:
        if guard and guard.auth and not is_loopback(args.host):
            logger.warning("--auth-token-file without TLS on %s: the token crosses the network "
                           "in clear text (use --ssl-certfile/--ssl-keyfile or a TLS proxy)",
                           args.host)
        return guard, None
    from tinyserve.tls import load_tls_context

    return guard, load_tls_context(args.ssl_certfile, args.ssl_keyfile)
