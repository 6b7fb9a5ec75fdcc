"""Slow clients (slowloris) do not stop other clients being served.

150 connections (more than waitress's default ``connection_limit`` of 100, at which it stops
accepting) trickle one header byte every half second, or send nothing at all; a trickling
client keeps waitress's inactivity timer fresh, so waitress alone would keep them forever.
While they trickle, new clients must be answered at once, and every slow connection must be
closed once ``--header-timeout`` has passed since it opened, never before. An idle keep-alive
connection that completed its request is not a slow client and stays usable.
"""
from __future__ import annotations

import socket
import threading
import time
import unittest
from typing import Dict, List

from tests.http_load import echo_plan, read_response
from tests.support import SUMMARY_LINES, fixture, run_cli, start_tinyserve

HEADER_TIMEOUT = 5.0
TRICKLING, SILENT = 140, 10
NORMAL_REQUESTS = 10


class Trickler:
    """Slow connections; one thread sends each a byte per round and notes when it is closed."""

    def __init__(self, port: int, trickling: int, silent: int) -> None:
        self.sockets: List[socket.socket] = []
        self.opened: Dict[socket.socket, float] = {}
        self.closed: Dict[socket.socket, float] = {}
        self.answers: Dict[socket.socket, bytes] = {}
        for number in range(trickling + silent):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.opened[sock] = time.monotonic()
            if number < trickling:
                sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sock.setblocking(False)
            self.sockets.append(sock)
        self.trickling = set(self.sockets[:trickling])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self) -> None:
        while not self.stop.is_set() and len(self.closed) < len(self.sockets):
            for sock in self.sockets:
                if sock not in self.closed:
                    self.check(sock)
            self.stop.wait(0.5)

    def check(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if data:
            self.answers[sock] = self.answers.get(sock, b"") + data
            return
        if data == b"":
            self.closed[sock] = time.monotonic()
            return
        if sock in self.trickling:
            try:
                sock.send(b"a")
            except OSError:
                self.closed[sock] = time.monotonic()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


class SlowClientsTest(unittest.TestCase):
    def test_150_slow_connections_do_not_block_new_clients_and_close_at_the_header_timeout(
            self) -> None:
        server = start_tinyserve(fixture("pyfunc_echo"), "--header-timeout", str(HEADER_TIMEOUT))
        keep_alive = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        trickler = None
        try:
            keep_alive.sendall(echo_plan(0).data)
            first_on_keep_alive = read_response(keep_alive)
            trickler = Trickler(server.port, TRICKLING, SILENT)
            time.sleep(1.0)  # the slow connections are all open and trickling
            answers = []
            for index in range(1, NORMAL_REQUESTS + 1):
                with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
                    sock.sendall(echo_plan(index).data)  # a new client, a new connection
                    answers.append(read_response(sock).endswith(echo_plan(index).body))
            closed_while_served = len(trickler.closed)
            deadline = time.monotonic() + HEADER_TIMEOUT + 10
            while len(trickler.closed) < len(trickler.sockets) and time.monotonic() < deadline:
                time.sleep(0.2)
            keep_alive.sendall(echo_plan(99).data)  # idle far longer than the header timeout
            second_on_keep_alive = read_response(keep_alive)
        finally:
            keep_alive.close()
            if trickler is not None:
                trickler.close()
            code, log = server.stop()
        self.assertTrue(first_on_keep_alive.endswith(echo_plan(0).body))
        self.assertEqual(answers, [True] * NORMAL_REQUESTS)
        self.assertEqual(closed_while_served, 0, "slow connections were gone already")
        self.assertEqual(len(trickler.closed), TRICKLING + SILENT, "slow connections still open")
        lived = [trickler.closed[sock] - trickler.opened[sock] for sock in trickler.sockets]
        self.assertGreaterEqual(min(lived), HEADER_TIMEOUT)  # never closed before the deadline
        told_408 = sum(answer.startswith(b"HTTP/1.1 408 ") for answer in trickler.answers.values())
        self.assertTrue(second_on_keep_alive.endswith(echo_plan(99).body))
        self.assertIn("whose request headers were not complete", log)
        self.assertEqual(code, 0, log[-2000:])
        SUMMARY_LINES.append(
            f"slow clients: {TRICKLING} trickling + {SILENT} silent connections; "
            f"{NORMAL_REQUESTS}/{NORMAL_REQUESTS} new clients answered meanwhile; all slow ones "
            f"closed {min(lived):.1f}-{max(lived):.1f} s after opening (header timeout "
            f"{HEADER_TIMEOUT:.0f} s), {told_408} of them after a 408")

    def test_negative_header_timeout_is_a_usage_error(self) -> None:
        done = run_cli("serve", "-m", fixture("pyfunc_echo"), "-p", "1", "--header-timeout", "-1")
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(done.stderr.decode().strip(),
                         "tinyserve: error: --header-timeout must be 0 or more, got -1.0.")


if __name__ == "__main__":
    unittest.main()
