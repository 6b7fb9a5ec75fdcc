"""A ready listening socket gives up to a batch of connections per turn of the loop, never more
than the connection limit, and stops when nothing more is waiting."""
from __future__ import annotations

import types
import unittest

from tinyserve.connections import accept_in_batches


class FakeServer:
    """waitress's server as ``accept_in_batches`` sees it: one accept per call."""

    def __init__(self, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.active_channels: dict = {}
        self.adj = types.SimpleNamespace(connection_limit=limit)
        self.calls = 0

    def handle_accept(self) -> None:
        self.calls += 1
        if self.waiting:
            self.waiting -= 1
            self.active_channels[len(self.active_channels)] = object()


class AcceptInBatchesTest(unittest.TestCase):
    def test_one_ready_event_accepts_a_batch_then_the_rest(self) -> None:
        server = FakeServer(waiting=100, limit=1000)
        accept_in_batches(server, batch=64)
        server.handle_accept()
        self.assertEqual(len(server.active_channels), 64)
        server.handle_accept()
        self.assertEqual(len(server.active_channels), 100)
        self.assertEqual(server.calls, 101)  # the last call found nothing waiting and stopped

    def test_the_connection_limit_still_holds(self) -> None:
        server = FakeServer(waiting=100, limit=10)
        accept_in_batches(server, batch=64)
        server.handle_accept()
        server.handle_accept()
        self.assertEqual(len(server.active_channels), 10)
        self.assertEqual(server.waiting, 90)

    def test_nothing_waiting_means_one_try(self) -> None:
        server = FakeServer(waiting=0, limit=1000)
        accept_in_batches(server)
        server.handle_accept()
        self.assertEqual((server.calls, len(server.active_channels)), (1, 0))


if __name__ == "__main__":
    unittest.main()
