"""Predictions under a deadline (``-t``), on threads that are kept, not started per request.

The request thread hands the prediction to a prediction thread and waits for it up to the
deadline. Python cannot stop a thread: a prediction that overruns keeps running to its end in
the background and its result is dropped, while its request gets its 504 at the deadline;
``OVERRUNS`` counts it from the 504 until it ends (``/metrics``, ``--max-in-flight``). Idle
prediction threads wait for the next prediction, and one is started only when none is idle,
so a busy server does not pay for a new thread on every request. Standard library only.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
from typing import Any, Callable, Deque, List, Optional

from tinyserve.metrics import OVERRUNS

logger = logging.getLogger("tinyserve")


class Prediction:
    """One piece of work, its outcome, and whether its request stopped waiting for it."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.outcome: List[Any] = []  # [(True, value)] or [(False, exception)] once done
        self.abandoned = False
        self.done = threading.Event()
        self.lock = threading.Lock()  # the deadline and the end of the work: one comes first

    def run(self) -> None:
        try:
            self.outcome.append((True, self.work()))
        except BaseException as error:  # re-raised in the request thread
            self.outcome.append((False, error))
        self.work = None  # its closure holds the request body: free it now, not next time
        with self.lock:
            self.done.set()
            if self.abandoned:
                OVERRUNS.ended()

    def abandon_unless_done(self) -> bool:
        """At the deadline: True (and counted as overrunning) if the work is still running."""
        with self.lock:
            if self.done.is_set():
                return False
            self.abandoned = True
            OVERRUNS.started()
            return True


class PredictionThreads:
    """Daemon threads that run predictions; as many as are ever busy at once, kept idle."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked child has none of the threads

    def reset(self) -> None:
        self.waiting: Deque[Prediction] = collections.deque()
        self.idle = 0
        self.ready = threading.Condition()

    def submit(self, prediction: Prediction) -> None:
        with self.ready:
            self.waiting.append(prediction)
            if self.idle >= len(self.waiting):
                self.ready.notify()
                return
        threading.Thread(target=self.serve, name="tinyserve-predict", daemon=True).start()

    def serve(self) -> None:
        while True:
            with self.ready:
                while not self.waiting:
                    self.idle += 1
                    self.ready.wait()
                    self.idle -= 1
                prediction = self.waiting.popleft()
            prediction.run()
            del prediction  # an idle thread must not keep the last request's data alive


PREDICTION_THREADS = PredictionThreads()


def run_with_timeout(work: Callable[[], Any], timeout: Optional[float]) -> Any:
    """``work()``, or ``None`` if it is not done within ``timeout`` seconds (then 504)."""
    if timeout is None:
        return work()
    prediction = Prediction(work)
    PREDICTION_THREADS.submit(prediction)
    if not prediction.done.wait(timeout) and prediction.abandon_unless_done():
        logger.warning("A request exceeded the %s s timeout; answered 504", timeout)
        return None
    ok, value = prediction.outcome[0]
    if not ok:
        raise value
    return value
