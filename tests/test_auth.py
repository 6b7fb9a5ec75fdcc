"""``--auth-token-file``: bearer-token authentication on a real server, and its start-up errors."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest

from tests.support import (REPO, child_env, fixture, free_port, request, run_cli,
                           start_tinyserve)
from tests.test_wsgi import EchoScorer, call
from tinyserve.security import BearerAuth, Guard
from tinyserve.wsgi import ScoringApp

TOKEN = "test-token-0123456789abcdef"
JSON = {"Content-Type": "application/json"}
BODY = b'{"inputs": [1, 2]}'
OPEN_PATHS = ("/ping", "/health", "/live", "/ready")
# method, path, body, the status once authenticated: every one is 401 without the token, so an
# unauthenticated client cannot tell a served path (200) from an unknown one (404), a wrong
# method (405) or a redirect (307).
PROTECTED = [
    ("POST", "/invocations", BODY, 200),
    ("GET", "/version", None, 200),
    ("HEAD", "/version", None, 200),
    ("GET", "/nowhere", None, 404),
    ("GET", "/invocations", None, 405),
    ("POST", "/invocations/", BODY, 307),
    ("GET", "/ping/", None, 307),  # open paths are exact: no redirect for strangers either
    ("GET", "//ping", None, 404),
    ("OPTIONS", "/invocations", None, 405),  # no CORS configured: not a preflight
]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class AuthServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        token_file = os.path.join(cls.tmp.name, "token")
        with open(token_file, "w") as handle:
            handle.write(f"\n  {TOKEN}\t\n")  # surrounding whitespace is not part of it
        cls.server = start_tinyserve(fixture("pyfunc_echo"), "--auth-token-file", token_file)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        cls.tmp.cleanup()

    def ask(self, method: str, path: str, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            headers.update(JSON)
        return request(self.server.port, method, path, body, headers)

    def test_open_paths_answer_without_a_token(self) -> None:
        for path in OPEN_PATHS:
            for method in ("GET", "HEAD"):
                with self.subTest(method=method, path=path):
                    self.assertEqual(self.ask(method, path).status, 200)

    def test_protected_requests_get_401_without_the_token(self) -> None:
        for method, path, body, _ in PROTECTED:
            with self.subTest(method=method, path=path):
                reply = self.ask(method, path, body)
                self.assertEqual(reply.status, 401)
                self.assertEqual(reply.headers["www-authenticate"], 'Bearer realm="tinyserve"')
                self.assertTrue(reply.headers["x-request-id"])
                if method != "HEAD":
                    self.assertEqual(reply.json()["error_code"], "UNAUTHENTICATED")

    def test_a_wrong_or_other_scheme_credential_gets_401(self) -> None:
        invalid = 'Bearer realm="tinyserve", error="invalid_token"'
        cases = [
            (bearer("wrong"), invalid),
            (bearer(TOKEN + "x"), invalid),
            (bearer(TOKEN[:-1]), invalid),
            ({"Authorization": "Bearer"}, invalid),
            ({"Authorization": f"Basic {TOKEN}"}, 'Bearer realm="tinyserve"'),
            ({"Authorization": TOKEN}, 'Bearer realm="tinyserve"'),
        ]
        for headers, challenge in cases:
            for method, path, body, _ in PROTECTED[:2]:
                with self.subTest(headers=headers, path=path):
                    reply = self.ask(method, path, body, headers)
                    self.assertEqual(reply.status, 401)
                    self.assertEqual(reply.headers["www-authenticate"], challenge)
                    self.assertEqual(reply.json()["error_code"], "UNAUTHENTICATED")

    def test_the_token_opens_every_path_as_without_auth(self) -> None:
        for headers in (bearer(TOKEN), {"Authorization": f"bearer   {TOKEN}"}):
            for method, path, body, status in PROTECTED:
                with self.subTest(headers=headers, method=method, path=path):
                    self.assertEqual(self.ask(method, path, body, headers).status, status)

    def test_an_unauthenticated_body_is_never_parsed(self) -> None:
        reply = self.ask("POST", "/invocations", b"this is,,, not json")
        self.assertEqual(reply.status, 401)  # a parsed body would have been a 400
        authenticated = self.ask("POST", "/invocations", b"this is,,, not json", bearer(TOKEN))
        self.assertEqual(authenticated.status, 400)

    def test_a_401_keeps_the_request_id_and_writes_an_access_line(self) -> None:
        reply = self.ask("GET", "/version", headers={"X-Request-ID": "auth-check-1"})
        self.assertEqual((reply.status, reply.headers["x-request-id"]), (401, "auth-check-1"))
        log = self.server.output_with("GET /version 401", "request_id=auth-check-1")
        self.assertIn("GET /version 401", log)
        self.assertIn("request_id=auth-check-1", log)


class AuthInProcessTest(unittest.TestCase):
    """What the server tests cannot see from outside: the body stays unread."""

    def test_an_unauthenticated_invocation_never_reaches_the_scorer(self) -> None:
        scorer = EchoScorer(fail=True)  # would answer 500 if it were called
        app = ScoringApp(scorer)
        app.guard = Guard(BearerAuth(TOKEN))
        status, headers, body = call(app, "POST", "/invocations", BODY, JSON)
        self.assertEqual(status, 401)
        self.assertIn("UNAUTHENTICATED", body.decode())


class WsgiEntryPointTest(unittest.TestCase):
    """``tinyserve.wsgi:application`` (gunicorn, uWSGI) takes the token file from the env."""

    PROBE = ("from tests.test_wsgi import call\n"
             "from tinyserve.wsgi import application\n"
             "print(call(application, 'GET', '/version')[0], call(application, 'GET', '/ping')[0])")

    def probe(self, token_file: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", self.PROBE], capture_output=True, cwd=REPO,
                              timeout=60, env=child_env({
                                  "TINYSERVE_MODEL_URI": fixture("pyfunc_echo"),
                                  "TINYSERVE_AUTH_TOKEN_FILE": token_file}))

    def test_the_env_token_file_protects_the_wsgi_application(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            token_file = os.path.join(tmp, "token")
            with open(token_file, "w") as handle:
                handle.write(TOKEN)
            result = self.probe(token_file)
            self.assertEqual(result.stdout.decode().split(), ["401", "200"], result.stderr)
            missing = self.probe(os.path.join(tmp, "missing"))
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("Cannot read --auth-token-file", missing.stderr.decode())


class TokenFileErrorsTest(unittest.TestCase):
    def serve_with(self, token_file: str, env=None):
        return run_cli("serve", "-m", fixture("pyfunc_echo"), "-p", str(free_port()),
                       "--auth-token-file", token_file, timeout=60, env=env)

    def test_a_bad_token_file_stops_start_up_with_one_line(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            files = {"empty": b"", "blank": b" \n\t\n", "two words": b"abc def\n",
                     "not ascii": "t\u00f6ken".encode(), "control": b"abc\x00def"}
            for name, content in files.items():
                with open(os.path.join(tmp, name), "wb") as handle:
                    handle.write(content)
            cases = [(os.path.join(tmp, "missing"), "Cannot read --auth-token-file"),
                     (tmp, "Cannot read --auth-token-file"),  # a directory
                     (os.path.join(tmp, "empty"), "is empty"),
                     (os.path.join(tmp, "blank"), "is empty"),
                     (os.path.join(tmp, "two words"), "visible ASCII"),
                     (os.path.join(tmp, "not ascii"), "visible ASCII"),
                     (os.path.join(tmp, "control"), "visible ASCII")]
            for path, expected in cases:
                with self.subTest(file=os.path.basename(path)):
                    result = self.serve_with(path)
                    self.assertNotEqual(result.returncode, 0)
                    lines = result.stderr.decode().strip().splitlines()
                    self.assertEqual(len(lines), 1, result.stderr)
                    self.assertIn(expected, lines[0])
                    self.assertTrue(lines[0].startswith("tinyserve: error: "))

    def test_the_env_var_names_the_token_file_when_the_flag_is_absent(self) -> None:
        missing = os.path.join(tempfile.gettempdir(), "tinyserve-no-such-token-file")
        result = run_cli("serve", "-m", fixture("pyfunc_echo"), "-p", str(free_port()),
                         env={"TINYSERVE_AUTH_TOKEN_FILE": missing}, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"Cannot read --auth-token-file {missing}", result.stderr.decode())


if __name__ == "__main__":
    unittest.main()
