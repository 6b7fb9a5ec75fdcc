"""Faults under load on a real 2-worker server: a worker killed, SIGTERM, a model that hangs,
a model that raises. Every request is checked against its own answer (``tests.http_load``).

What is counted, precisely:

- kill -9 of a worker: a client connection holds at most one request at a time (no
  pipelining), so the requests that worker held are at most the connections it held. Every
  failure must be on one of those connections, at most one per connection, and be a connection
  that ended under the request (before or while its answer arrived; never a wrong answer or a
  hang); that client then reconnects and its later requests succeed. Failed requests are *not*
  retried here, so none is hidden.
- SIGTERM: every request the server read is answered, with ``Connection: close`` once the
  drain began. Under load, a wrong or cut-off answer fails the test; that a request the
  server has started to read is never dropped is checked directly by the drain test (a
  half-sent request at the signal is answered), and holds by construction: a connection is
  closed as idle only when no byte of a request is in it, not even unread in the socket. A
  request sent on a
  reused keep-alive connection that the server closed while idle (no byte of the answer came
  back) is retried once on a new connection, as RFC 9112 section 9.3.1 allows; new
  connections after the signal are refused, and one that the kernel completed in the last
  moment before the listening socket closed may instead be reset unread (tinyserve never
  accepted it). Every failure must come after the signal, and such a reset only on a
  connection opened after it. The server's access log lists exactly the answers the clients
  received (none lost, none twice), and the server exits 0.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
import unittest
from typing import Dict, List, Set

from tests.http_load import OK, LoadRun, Planned, echo_plan, post_request, read_response
from tests.support import SUMMARY_LINES, fixture, refused, request, start_tinyserve
from tinyserve.errors import ScoringError
from tinyserve.pyfunc import UNEXPECTED_MODEL_ERROR

JSON = {"Content-Type": "application/json"}
CUT_OFF = ("idle_closed", "fresh_closed", "partial")  # the connection ended under the request


def children_of(pid: int) -> List[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


def socket_inodes(pid: int) -> Set[str]:
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def client_ports_held_by(pid: int, server_port: int) -> Set[int]:
    """Local ports of the client connections whose server side is open in process ``pid``."""
    inodes = socket_inodes(pid)
    ports = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state != "0A" and inode in inodes and int(local.split(":")[1], 16) == server_port:
                ports.add(int(remote.split(":")[1], 16))
    return ports


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class KillWorkerTest(unittest.TestCase):
    def test_killed_worker_loses_at_most_its_in_progress_requests_and_is_replaced(self) -> None:
        connections, total = 32, 3000
        server = start_tinyserve(fixture("pyfunc_echo"), "-w", "2")
        try:
            run = LoadRun(server.port, echo_plan, total, connections, 120.0,
                          retry_idle=False)  # a request lost with the worker shows as failed
            loader = run.start_in_thread()
            self.assertTrue(wait_for(lambda: run.completed >= 1000, 60), run.summary())
            workers = children_of(server.process.pid)
            held = {pid: client_ports_held_by(pid, server.port) for pid in workers}
            victim = max(workers, key=lambda pid: len(held[pid]))
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            loader.join(150)
            replaced = wait_for(lambda: victim not in children_of(server.process.pid)
                                and len(children_of(server.process.pid)) == 2, 10)
            after = LoadRun(server.port, lambda i: echo_plan(total + i), 2000, 16, 60.0).run()
        finally:
            code, log = server.stop()
        self.assertFalse(run.timed_out, run.summary())
        self.assertEqual(run.completed, total)
        self.assertEqual(set().union(*held.values()), set(run.ports_used[:connections]))
        failed_ports = [failure.local_port for failure in run.failures]
        self.assertTrue(set(failed_ports) <= held[victim], (failed_ports, held))
        self.assertEqual(len(failed_ports), len(set(failed_ports)), "two failures on a connection")
        self.assertTrue(all(failure.at >= killed_at for failure in run.failures))
        self.assertTrue(all(failure.outcome in CUT_OFF for failure in run.failures),
                        run.failures)
        self.assertEqual(run.counts[OK], total - len(run.failures))
        self.assertEqual(run.counts["wrong"], 0)
        self.assertTrue(replaced, log[-2000:])
        self.assertIn(f"Worker {victim} exited (status 9); starting a new one", log)
        self.assertEqual(after.counts[OK], 2000, after.summary())
        self.assertEqual(code, 0, log[-2000:])
        SUMMARY_LINES.append(
            f"faults: kill -9 of a worker holding {len(held[victim])} of {connections} "
            f"connections: {len(run.failures)} request(s) failed, {run.counts[OK]} of {total} "
            f"answered correctly; then {after.counts[OK]}/2000 after the restart")


class SigtermTest(unittest.TestCase):
    def test_every_request_read_is_answered_and_new_connections_are_refused(self) -> None:
        connections, total = 64, 40_000
        server = start_tinyserve(fixture("pyfunc_echo"), "-w", "2")
        try:
            run = LoadRun(server.port, echo_plan, total, connections, 120.0,
                          stop_on_refused=True)
            loader = run.start_in_thread()
            self.assertTrue(wait_for(lambda: run.completed >= 2000, 60), run.summary())
            signalled_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            refused_after_signal = refused(server.port)
            loader.join(60)
            code = server.process.wait(40)
        finally:
            _, log = server.stop()
        self.assertFalse(run.timed_out, run.summary())
        self.assertEqual(code, 0, log[-3000:])
        self.assertTrue(refused_after_signal)
        for outcome in ("wrong", "partial", "timeout"):
            self.assertEqual(run.counts[outcome], 0, run.summary())
        early = [failure for failure in run.failures if failure.at < signalled_at
                 or failure.outcome == "fresh_closed" and failure.opened < signalled_at]
        self.assertEqual(early, [], "failures before the signal, or on an older connection")
        self.assertGreater(run.told_to_close, 0, "no answer during the drain said close")
        answered_ids = re.findall(r"POST /invocations 200 \d+ [\d.]+ms request_id=(load-\d+)",
                                  log)
        self.assertEqual(len(answered_ids), len(set(answered_ids)), "a request answered twice")
        self.assertEqual(len(answered_ids), run.counts[OK], "an answer was lost on the way")
        self.assertNotIn("Graceful timeout", log)

        SUMMARY_LINES.append(
            f"faults: SIGTERM under load at concurrency "
            f"{connections}: {run.counts[OK]} answered, {run.told_to_close} with Connection: "
            f"close, {run.counts['idle_closed']} idle keep-alive closes retried, "
            f"{run.counts['refused']} refused and {run.counts['fresh_closed']} new connections "
            f"closed unread after the signal; exit 0")

    def test_drain_closes_idle_keep_alive_and_answers_started_requests_with_close(self) -> None:
        server = start_tinyserve(fixture("pyfunc_params"), "--graceful-timeout", "20")
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            idle.sendall(post_request(b'{"inputs": [1]}', "idle-1"))
            first = read_response(idle)
            body = b'{"inputs": [41]}'
            whole = post_request(body, "started-1")
            started.sendall(whole[:40])  # part of the request line and headers
            slow: Dict[str, object] = {}
            sender = threading.Thread(target=lambda: slow.update(answer=request(
                server.port, "POST", "/invocations", SLEEP_2S, JSON, timeout=30)))
            sender.start()
            time.sleep(0.7)  # the sleep request is running: the drain will wait for it
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            idle_closed = idle.recv(1) == b""  # closed by the server while it drains
            started.sendall(whole[40:])
            answer = read_response(started)
            sender.join(30)
            code = server.process.wait(30)
        finally:
            idle.close()
            started.close()
            _, log = server.stop()
        self.assertIn(b"200 OK", first.split(b"\r\n", 1)[0])
        self.assertTrue(idle_closed)
        head, _, payload = answer.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200 OK", head)
        self.assertIn(b"\r\nConnection: close", head)
        self.assertEqual(json.loads(payload)["predictions"]["input"]["values"], "[41]")
        self.assertEqual(slow["answer"].status, 200)
        self.assertEqual(slow["answer"].headers.get("connection"), "close")
        self.assertEqual(code, 0, log)


class HangingModelTest(unittest.TestCase):
    """``-t 1`` and predictions that sleep 4 s: tests/test_server.py checks one 504; here
    several hang at once while health checks and other predictions keep being answered."""

    def test_hung_predictions_get_504_while_ping_and_other_predictions_answer(self) -> None:
        hung_count = 6  # of the 8 threads: two stay free for everything else
        server = start_tinyserve(fixture("pyfunc_params"), "-t", "1", "--threads", "8")
        try:
            hung: List[object] = []

            def send_hung() -> None:
                hung.append(request(server.port, "POST", "/invocations", sleep_body(4), JSON,
                                    timeout=30))

            senders = [threading.Thread(target=send_hung) for _ in range(hung_count)]
            for sender in senders:
                sender.start()
            time.sleep(0.3)  # all six are in the model now
            while_hung = [self.ping_and_echo(server.port, n) for n in range(3)]
            for sender in senders:
                sender.join(30)
            # the 504s are sent; the six predictions still sleep in their abandoned threads
            after_504 = [self.ping_and_echo(server.port, n) for n in range(3, 6)]
        finally:
            code, log = server.stop()
        self.assertEqual(len(hung), hung_count)
        for reply in hung:
            with self.subTest(reply=reply.body):
                self.assertEqual(reply.status, 504)
                self.assertEqual(reply.headers["content-type"], "application/json")
                self.assertEqual(reply.json()["error_code"], "DEADLINE_EXCEEDED")
        self.assertEqual(while_hung + after_504, [(200, 200, f"[{n}]") for n in range(6)])
        self.assertEqual(log.count("exceeded the 1.0 s timeout; answered 504"), hung_count)
        self.assertEqual(code, 0, log)

    @staticmethod
    def ping_and_echo(port: int, value: int) -> tuple:
        ping = request(port, "GET", "/ping", timeout=2)  # a hang here fails the test
        echo = request(port, "POST", "/invocations", json.dumps({"inputs": [value]}).encode(),
                       JSON, timeout=2)
        return ping.status, echo.status, echo.json()["predictions"]["input"]["values"]


class RaisingModelTest(unittest.TestCase):
    def test_model_errors_under_concurrent_load_get_mlflows_400_and_serving_goes_on(
            self) -> None:
        total = 3000
        server = start_tinyserve(fixture("pyfunc_params"), "-w", "2")
        try:
            workers = children_of(server.process.pid)
            run = LoadRun(server.port, raising_or_echo_plan, total, 32, 120.0).run()
            still = children_of(server.process.pid)
            ping = request(server.port, "GET", "/ping")
        finally:
            code, log = server.stop()
        self.assertFalse(run.timed_out, run.summary())
        self.assertEqual(run.counts[OK], total, run.summary())
        self.assertEqual(len(run.ports_used), 32, "a connection was dropped")
        self.assertEqual(sorted(still), sorted(workers), "a worker died")
        self.assertEqual(ping.status, 200)
        self.assertEqual(log.count("ValueError: boom from model"), total // 2)  # logged, not sent
        self.assertEqual(code, 0, log[-2000:])
        SUMMARY_LINES.append(f"faults: raising model under load: {run.summary()}")


MODEL_ERROR_BODY = ScoringError(UNEXPECTED_MODEL_ERROR, "BAD_REQUEST").to_json()
PARAMS_ECHO = (b'"params": {"kind": "\'echo\'", "temperature": "0.5", "max_tokens": "16", '
               b'"flag": "False", "when": "datetime.date(2024, 1, 2)", "ids": "[1, 2]"}')


def raising_or_echo_plan(index: int) -> Planned:
    """Odd requests make ``pyfunc_params`` raise ValueError (MLflow answers 400 with its
    generic text, no stack trace); even ones echo a value of their own."""
    if index % 2:
        body = b'{"inputs": [%d], "params": {"kind": "raise_value"}}' % index
        return Planned(post_request(body, f"raise-{index}"), 400, MODEL_ERROR_BODY)
    body = b'{"inputs": [%d]}' % index
    answer = (b'{"predictions": {"input": {"type": "ndarray", "dtype": "int64", "shape": [1], '
              b'"values": "[%d]"}, ' % index) + PARAMS_ECHO + b"}}"
    return Planned(post_request(body, f"echo-{index}"), 200, answer)


def sleep_body(seconds: float) -> bytes:
    return json.dumps({"inputs": [1], "params": {"kind": "sleep", "temperature": seconds}}).encode()


SLEEP_2S = sleep_body(2)


if __name__ == "__main__":
    unittest.main()
