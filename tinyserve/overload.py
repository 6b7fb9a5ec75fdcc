"""Load shedding: past ``--max-in-flight`` requests per worker, answer 503 at once.

waitress reads every request whole and queues it for its threads without bound, so a worker
behind on slow predictions keeps accepting work that waits, times out at the client, and is
then computed anyway. ``SheddingDispatcher`` replaces waitress's task dispatcher: it counts
the requests queued or running (plus the predictions still running after their 504, which
hold a CPU all the same) and, at the limit, hands the new request to one small thread that
runs the app with ``shedding()`` true. The app answers ``/invocations`` there with 503,
``TEMPORARILY_UNAVAILABLE`` and ``Retry-After``, and everything else (``/ping``, ``/ready``...)
as usual, so health checks stay quick while the model is saturated. waitress is imported
inside ``shedding_dispatcher`` only: importing this module stays stdlib-only.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Deque

from tinyserve.metrics import overrunning_predictions

logger = logging.getLogger("tinyserve")

DEFAULT_MAX_IN_FLIGHT = 128
RETRY_AFTER_SECONDS = 1

_local = threading.local()


def shedding() -> bool:
    """True while the current thread answers a request that came in over the limit."""
    return getattr(_local, "shedding", False)


def shedding_dispatcher(threads: int, limit: int) -> Any:
    """A waitress task dispatcher with ``threads`` threads that sheds work past ``limit``."""
    from waitress.task import ThreadedTaskDispatcher

    class SheddingDispatcher(ThreadedTaskDispatcher):
        def __init__(self) -> None:
            super().__init__()
            self.limit = limit
            self.shed_queue: Deque[Any] = collections.deque()
            self.shed_ready = threading.Condition()
            self.shed_thread = threading.Thread(target=self.shed_loop, name="tinyserve-shed",
                                                daemon=True)
            self.shed_thread.start()

        def in_flight(self) -> int:
            with self.lock:
                return len(self.queue) + self.active_count

        def add_task(self, task: Any) -> None:
            if self.in_flight() + overrunning_predictions() < self.limit:
                super().add_task(task)
                return
            with self.shed_ready:
                self.shed_queue.append(task)
                self.shed_ready.notify()

        def shed_loop(self) -> None:
            _local.shedding = True
            while True:
                with self.shed_ready:
                    while not self.shed_queue:
                        self.shed_ready.wait()
                    task = self.shed_queue.popleft()
                try:
                    task.service()
                except BaseException:  # as waitress's own threads do: log, keep going
                    logger.exception("Error answering a request over the in-flight limit")

        def pending(self) -> int:
            """Requests not yet answered: queued, running or waiting for their 503."""
            with self.shed_ready:
                shed = len(self.shed_queue)
            return self.in_flight() + shed

        def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
            with self.shed_ready:
                while self.shed_queue:
                    self.shed_queue.popleft().cancel()
            return super().shutdown(cancel_pending, timeout)

    dispatcher = SheddingDispatcher()
    dispatcher.set_thread_count(threads)
    return dispatcher
