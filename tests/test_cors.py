"""``--cors-allow-origins``: preflights, CORS headers on every answer, and the flag left off."""
from __future__ import annotations

import os
import tempfile
import unittest

from tests.support import fixture, free_port, request, run_cli, start_tinyserve
from tests.test_wsgi import EchoScorer, call
from tinyserve.errors import ModelLoadError
from tinyserve.security import CorsPolicy, Guard, parse_origins
from tinyserve.wsgi import ScoringApp

ALLOWED = "https://app.example"
OTHER_ALLOWED = "http://localhost:8080"
TOKEN = "cors-test-token-0123456789"
JSON = {"Content-Type": "application/json"}
BODY = b'{"inputs": [1, 2]}'


def preflight(origin: str, method: str = "POST", **extra: str) -> dict:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    headers.update({name.replace("_", "-"): value for name, value in extra.items()})
    return headers


class CorsServerTest(unittest.TestCase):
    """An allow-list of two origins, with a token too: preflights need none, 401s carry CORS."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        token_file = os.path.join(cls.tmp.name, "token")
        with open(token_file, "w") as handle:
            handle.write(TOKEN)
        cls.server = start_tinyserve(
            fixture("pyfunc_echo"), "--auth-token-file", token_file,
            "--cors-allow-origins", f"{ALLOWED}, {OTHER_ALLOWED}")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        cls.tmp.cleanup()

    def ask(self, method: str, path: str, headers: dict, body=None):
        return request(self.server.port, method, path, body, headers)

    def test_a_preflight_from_an_allowed_origin_gets_200_without_a_token(self) -> None:
        for origin in (ALLOWED, OTHER_ALLOWED):
            for path in ("/invocations", "/version", "/ping", "/nowhere"):
                with self.subTest(origin=origin, path=path):
                    reply = self.ask("OPTIONS", path, preflight(
                        origin, Access_Control_Request_Headers="authorization,content-type"))
                    self.assertEqual((reply.status, reply.body), (200, b""))
                    self.assertEqual(reply.headers["access-control-allow-origin"], origin)
                    self.assertEqual(reply.headers["access-control-allow-methods"],
                                     "GET, HEAD, POST")
                    self.assertEqual(reply.headers["access-control-allow-headers"],
                                     "Authorization, Content-Type, X-Request-ID")
                    self.assertEqual(reply.headers["access-control-max-age"], "600")
                    self.assertEqual(reply.headers["vary"], "Origin")
                    self.assertTrue(reply.headers["x-request-id"])

    def test_a_preflight_from_another_origin_gets_403_and_no_cors_headers(self) -> None:
        for origin in ("https://evil.example", ALLOWED + ":443", ALLOWED + "/", "null",
                       "http://app.example"):
            with self.subTest(origin=origin):
                reply = self.ask("OPTIONS", "/invocations", preflight(origin))
                self.assertEqual(reply.status, 403)
                self.assertEqual(reply.json()["error_code"], "PERMISSION_DENIED")
                self.assertEqual(cors_headers(reply), {})

    def test_an_allowed_origin_gets_cors_headers_on_every_answer(self) -> None:
        cases = [("POST", "/invocations", {"Authorization": f"Bearer {TOKEN}", **JSON}, BODY, 200),
                 ("POST", "/invocations", JSON, BODY, 401),
                 ("GET", "/ping", {}, None, 200),
                 ("GET", "/nowhere", {"Authorization": f"Bearer {TOKEN}"}, None, 404),
                 ("OPTIONS", "/ping", {}, None, 405)]  # no Access-Control-Request-Method
        for method, path, headers, body, status in cases:
            with self.subTest(method=method, path=path, status=status):
                reply = self.ask(method, path, {"Origin": ALLOWED, **headers}, body)
                self.assertEqual(reply.status, status)
                self.assertEqual(cors_headers(reply), {
                    "access-control-allow-origin": ALLOWED,
                    "access-control-expose-headers": "X-Request-ID"})
                self.assertEqual(reply.headers["vary"], "Origin")

    def test_another_origin_or_none_gets_no_cors_headers_but_is_served(self) -> None:
        for headers in ({"Origin": "https://evil.example"}, {}):
            with self.subTest(headers=headers):
                reply = self.ask("POST", "/invocations",
                                 {"Authorization": f"Bearer {TOKEN}", **JSON, **headers}, BODY)
                self.assertEqual(reply.status, 200)  # the browser, not the server, withholds it
                self.assertEqual(cors_headers(reply), {})
                self.assertEqual(reply.headers["vary"], "Origin")

    def test_preflights_write_access_lines(self) -> None:
        self.ask("OPTIONS", "/invocations", {**preflight(ALLOWED), "X-Request-ID": "pre-1"})
        self.ask("OPTIONS", "/invocations", {**preflight("https://x.example"),
                                             "X-Request-ID": "pre-2"})
        log = self.server.output_with("request_id=pre-1", "request_id=pre-2")
        self.assertIn("OPTIONS /invocations 200 0", log)
        self.assertIn("request_id=pre-1", log)
        self.assertIn("OPTIONS /invocations 403", log)
        self.assertIn("request_id=pre-2", log)


class WithoutCorsTest(unittest.TestCase):
    def test_without_the_flag_a_preflight_is_405_as_in_mlflow(self) -> None:
        server = start_tinyserve(fixture("pyfunc_echo"))
        try:
            replies = [request(server.port, "OPTIONS", path, None, preflight(ALLOWED))
                       for path in ("/invocations", "/ping")]
            plain = request(server.port, "GET", "/ping", None, {"Origin": ALLOWED})
        finally:
            server.stop()
        self.assertEqual([r.status for r in replies], [405, 405])
        self.assertEqual([r.headers["allow"] for r in replies], ["POST", "GET, HEAD"])
        self.assertEqual([r.body for r in replies], [b'{"detail":"Method Not Allowed"}'] * 2)
        for reply in (*replies, plain):
            self.assertEqual(cors_headers(reply), {})
            self.assertNotIn("vary", reply.headers)


class AnyOriginTest(unittest.TestCase):
    """``*`` in process: the literal ``*``, never an echoed origin, and no ``Vary``."""

    def test_any_origin_gets_a_star(self) -> None:
        app = ScoringApp(EchoScorer())
        app.guard = Guard(cors=CorsPolicy(parse_origins("*")))
        status, headers, _ = call(app, "OPTIONS", "/invocations",
                                  headers=preflight("https://anything.example"))
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertNotIn("access-control-allow-credentials", headers)
        status, headers, _ = call(app, "POST", "/invocations", BODY,
                                  {"Origin": "null", **JSON})
        self.assertEqual((status, headers["access-control-allow-origin"]), (200, "*"))
        self.assertNotIn("vary", headers)
        status, headers, _ = call(app, "GET", "/ping")
        self.assertNotIn("access-control-allow-origin", headers)


class OriginListTest(unittest.TestCase):
    def test_origin_lists_are_checked_when_parsed(self) -> None:
        good = {"*": ["*"], " https://a.example ,http://b.example:8080,": [
            "https://a.example", "http://b.example:8080"]}
        for text, expected in good.items():
            with self.subTest(text=text):
                self.assertEqual(parse_origins(text), expected)
        for text in ("", " , ", "*,https://a.example", "https://a.example/",
                     "https://a.example/path", "a.example", "https://"):
            with self.subTest(text=text):
                with self.assertRaises(ModelLoadError):
                    parse_origins(text)

    def test_a_bad_origin_list_stops_start_up_with_one_line(self) -> None:
        result = run_cli("serve", "-m", fixture("pyfunc_echo"), "-p", str(free_port()),
                         env={"TINYSERVE_CORS_ALLOW_ORIGINS": "https://a.example/"}, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("is not an origin", lines[0])


def cors_headers(reply) -> dict:
    return {name: value for name, value in reply.headers.items()
            if name.startswith("access-control-")}


if __name__ == "__main__":
    unittest.main()
