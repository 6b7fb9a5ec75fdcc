"""HTTPS with ``--ssl-certfile``/``--ssl-keyfile``: real TLS clients against a real server.

The certificate is the committed test-only one in tests/fixtures/tls (see its README); the
clients trust its test CA and check the host name, as a real client would.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import tempfile
import threading
import time
import unittest
import warnings
from unittest import mock
from typing import Dict, List, Optional

from tests.support import REPO, ServerProcess, fixture, free_port, request, run_cli

TLS_DIR = os.path.join(REPO, "tests", "fixtures", "tls")
CA = os.path.join(TLS_DIR, "test-ca.pem")
CERT = os.path.join(TLS_DIR, "test-cert.pem")
KEY = os.path.join(TLS_DIR, "test-key.pem")
ENCRYPTED_KEY = os.path.join(TLS_DIR, "test-key-encrypted.pem")  # password "test-only"
SPLIT = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[0.0, 1.0], [5.0, 2.0]]}}'
JSON = {"Content-Type": "application/json"}
PREDICTIONS = b'{"predictions": [0, 1]}'


def client_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=CA)


def connect(port: int, host: str = "127.0.0.1", timeout: float = 30.0
            ) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(host, port, timeout=timeout, context=client_context())


def ask(conn: http.client.HTTPSConnection, method: str, path: str, body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None):
    conn.request(method, path, body, headers or {})
    reply = conn.getresponse()
    return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()


def https(port: int, method: str, path: str, body: Optional[bytes] = None,
          headers: Optional[Dict[str, str]] = None, host: str = "127.0.0.1", timeout: float = 30.0):
    conn = connect(port, host, timeout)
    try:
        return ask(conn, method, path, body, headers)
    finally:
        conn.close()


def start_tls_server(*flags: str, model: str = "sk_skops") -> ServerProcess:
    port = free_port()
    server = ServerProcess(["-m", "tinyserve", "serve", "-m", fixture(model), "-p", str(port),
                            "--ssl-certfile", CERT, "--ssl-keyfile", KEY, *flags], port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited:\n{server.output()}")
        try:
            if https(port, "GET", "/ping", timeout=2)[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("the TLS server did not answer /ping in time")


class OneWorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start_tls_server()

    @classmethod
    def tearDownClass(cls) -> None:
        code, output = cls.server.stop()
        assert code == 0, output

    def test_ping_and_invocations_over_https_by_ip_and_name(self) -> None:
        for host in ("127.0.0.1", "localhost"):
            with self.subTest(host=host):
                self.assertEqual(https(self.server.port, "GET", "/ping", host=host)[0], 200)
                status, headers, body = https(self.server.port, "POST", "/invocations",
                                              SPLIT, JSON, host=host)
                self.assertEqual((status, body), (200, PREDICTIONS))
                self.assertTrue(headers["x-request-id"])

    def test_keep_alive_serves_several_requests_on_one_connection(self) -> None:
        conn = connect(self.server.port)
        try:
            answers = [ask(conn, "POST", "/invocations", SPLIT, JSON)]
            first_socket = conn.sock
            answers += [ask(conn, "POST", "/invocations", SPLIT, JSON) for _ in range(4)]
            version = ask(conn, "GET", "/version")
            answers.append(ask(conn, "POST", "/invocations", SPLIT, JSON))
            self.assertIs(conn.sock, first_socket)  # never reconnected in between
        finally:
            conn.close()
        self.assertEqual([(a[0], a[2]) for a in answers], [(200, PREDICTIONS)] * 6)
        self.assertEqual(version[0], 200)

    def test_a_5_mb_body_and_a_large_answer(self) -> None:
        pairs = 5 * 1024 * 1024 // 16 + 1  # two 8-byte rows each
        body = b"a,b\n" + b"0.0,1.0\n5.0,2.0\n" * pairs
        status, _, answer = https(self.server.port, "POST", "/invocations", body,
                                  {"Content-Type": "text/csv"}, timeout=60)
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 5 * 1024 * 1024)
        self.assertEqual(answer, b'{"predictions": [' + b", ".join([b"0, 1"] * pairs) + b"]}")
        self.assertGreater(len(answer), 1000 * 1000)

    def test_pipelined_requests_in_one_tls_write_all_get_answers(self) -> None:
        post = (b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(SPLIT), SPLIT))
        last = b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        with client_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(post * 3 + last)
            received = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        self.assertEqual(received.count(b"HTTP/1.1 200 OK"), 4)
        self.assertEqual(received.count(PREDICTIONS), 3)

    def test_concurrent_clients_on_kept_connections_all_get_their_answers(self) -> None:
        deadline = time.monotonic() + 30
        outcomes: List[object] = []

        def client() -> None:
            conn = connect(self.server.port, timeout=10)
            try:
                for _ in range(10):
                    if time.monotonic() > deadline:
                        outcomes.append("deadline")
                        return
                    outcomes.append(ask(conn, "POST", "/invocations", SPLIT, JSON)[::2])
            except OSError as error:
                outcomes.append(repr(error))
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(40)
        self.assertEqual(outcomes, [(200, PREDICTIONS)] * 80)

    def test_the_redirect_names_https(self) -> None:
        status, headers, _ = https(self.server.port, "GET", "/ping/")
        self.assertEqual(status, 307)
        self.assertTrue(headers["location"].startswith("https://"), headers["location"])

    def test_stalled_clients_do_not_block_another_client(self) -> None:
        stalled: List[socket.socket] = []
        try:
            for first_bytes in (b"", b"\x16\x03\x01\x02\x00\x01"):  # nothing; half a ClientHello
                sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
                sock.sendall(first_bytes)
                stalled.append(sock)
            tls_stalled = client_context().wrap_socket(  # a finished handshake, then silence
                socket.create_connection(("127.0.0.1", self.server.port), timeout=5),
                server_hostname="127.0.0.1")
            stalled.append(tls_stalled)
            for _ in range(3):
                status, _, body = https(self.server.port, "POST", "/invocations", SPLIT, JSON,
                                        timeout=10)
                self.assertEqual((status, body), (200, PREDICTIONS))
        finally:
            for sock in stalled:
                sock.close()

    def test_plain_http_and_garbage_to_the_tls_port_do_not_hurt_the_server(self) -> None:
        reply = request(self.server.port, "GET", "/ping", timeout=10)
        self.assertEqual(reply.status, 400)
        self.assertIn(b"https://", reply.body)
        for junk in (b"\x00" * 64, os.urandom(4096), b"\x16\x03\x01\xff\xff" + b"\x01" * 300):
            with self.subTest(junk=junk[:8]):
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
                    try:
                        sock.sendall(junk)
                        sock.shutdown(socket.SHUT_WR)
                        while sock.recv(4096):  # the server closes the connection
                            pass
                    except OSError:  # it may close before all the junk is sent
                        pass
                self.assertEqual(https(self.server.port, "GET", "/ping")[0], 200)
        self.assertEqual(https(self.server.port, "POST", "/invocations", SPLIT, JSON)[2],
                         PREDICTIONS)

    def test_tls_older_than_1_2_is_refused(self) -> None:
        context = client_context()
        try:
            with warnings.catch_warnings():  # TLSVersion.TLSv1_1 is deprecated, as it should be
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot offer TLS 1.1 at all")
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError):
                context.wrap_socket(raw, server_hostname="127.0.0.1")
        self.assertEqual(https(self.server.port, "GET", "/ping")[0], 200)
        from tinyserve.tls import load_tls_context

        self.assertEqual(load_tls_context(CERT, KEY).minimum_version, ssl.TLSVersion.TLSv1_2)


class InProcessTest(unittest.TestCase):
    """waitress with ``use_tls`` in a thread of this process, for what needs a patch or a peek."""

    def serve(self, app) -> int:
        from waitress import wasyncore
        from waitress.server import create_server

        from tinyserve.tls import load_tls_context, use_tls

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        server = create_server(app, sockets=[sock], threads=2)
        use_tls(server, load_tls_context(CERT, KEY))
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                wasyncore.loop(timeout=0.05, map=server._map, count=1)
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
            wasyncore.close_all(server._map)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(stop.set)
        return sock.getsockname()[1]

    def test_decrypted_bytes_left_inside_openssl_are_still_read(self) -> None:
        def app(environ, start_response):
            body = environ["wsgi.input"].read()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"%d %s" % (len(body), environ["wsgi.url_scheme"].encode())]

        with mock.patch("tinyserve.tls.READ_SIZE", 1000):  # far less than one 16 KiB record
            port = self.serve(app)
            for size in (10, 999, 1000, 16384, 100_000):
                with self.subTest(size=size):
                    status, _, answer = https(port, "POST", "/", b"x" * size, timeout=10)
                    self.assertEqual((status, answer), (200, b"%d https" % size))


class TwoWorkersTest(unittest.TestCase):
    def test_two_workers_serve_https_on_fresh_and_kept_connections(self) -> None:
        server = start_tls_server("-w", "2")
        try:
            answers = [https(server.port, "POST", "/invocations", SPLIT, JSON)
                       for _ in range(8)]
            conn = connect(server.port)
            try:
                answers += [ask(conn, "POST", "/invocations", SPLIT, JSON) for _ in range(4)]
            finally:
                conn.close()
            plain = request(server.port, "GET", "/ping", timeout=10)
            after = https(server.port, "GET", "/ping")
        finally:
            code, output = server.stop(signal.SIGTERM)
        self.assertEqual([(a[0], a[2]) for a in answers], [(200, PREDICTIONS)] * 12)
        self.assertEqual((plain.status, after[0]), (400, 200))
        self.assertEqual(code, 0, output)
        self.assertIn("listening on https://", output)


class StartUpErrorsTest(unittest.TestCase):
    def serve(self, *flags: str):
        return run_cli("serve", "-m", fixture("pyfunc_echo"), "-p", str(free_port()), *flags,
                       timeout=60)

    def test_bad_tls_files_stop_start_up_with_one_line(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            garbage = os.path.join(tmp, "garbage.pem")
            with open(garbage, "w") as handle:
                handle.write("not a certificate\n")
            missing = os.path.join(tmp, "missing.pem")
            cases = [
                (("--ssl-certfile", CERT), "give both or neither"),
                (("--ssl-keyfile", KEY), "give both or neither"),
                (("--ssl-certfile", missing, "--ssl-keyfile", KEY),
                 f"Cannot read --ssl-certfile {missing}"),
                (("--ssl-certfile", CERT, "--ssl-keyfile", missing),
                 f"Cannot read --ssl-keyfile {missing}"),
                (("--ssl-certfile", garbage, "--ssl-keyfile", KEY), "Cannot use --ssl-certfile"),
                (("--ssl-certfile", CERT, "--ssl-keyfile", garbage), "Cannot use --ssl-certfile"),
                (("--ssl-certfile", CERT, "--ssl-keyfile", CERT), "Cannot use --ssl-certfile"),
                (("--ssl-certfile", CA, "--ssl-keyfile", KEY), "Cannot use --ssl-certfile"),
            ]
            for flags, expected in cases:
                with self.subTest(flags=[os.path.basename(f) for f in flags]):
                    result = self.serve(*flags)
                    self.assertNotEqual(result.returncode, 0)
                    lines = result.stderr.decode().strip().splitlines()
                    self.assertEqual(len(lines), 1, result.stderr)
                    self.assertIn(expected, lines[0])

    def test_an_encrypted_key_is_refused_without_a_prompt(self) -> None:
        result = self.serve("--ssl-certfile", CERT, "--ssl-keyfile", ENCRYPTED_KEY)
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("is encrypted", lines[0])


if __name__ == "__main__":
    unittest.main()
