"""Predictions under a deadline: kept prediction threads, 504 at the deadline, overrun counting,
and a forked child that starts its own threads."""
from __future__ import annotations

import os
import threading
import time
import unittest
import weakref

from tinyserve.deadlines import run_with_timeout
from tinyserve.metrics import OVERRUNS


def prediction_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "tinyserve-predict")


class DeadlineTest(unittest.TestCase):
    def test_results_and_errors_come_back_and_threads_are_kept(self) -> None:
        self.assertEqual(run_with_timeout(lambda: 41 + 1, 5), 42)
        before = prediction_threads()
        for number in range(200):
            self.assertEqual(run_with_timeout(lambda: number, 5), number)
        self.assertLessEqual(prediction_threads(), max(before, 1))
        with self.assertRaisesRegex(ValueError, "boom"):
            run_with_timeout(lambda: (_ for _ in ()).throw(ValueError("boom")), 5)
        self.assertIsNone(run_with_timeout(lambda: None, None))

    def test_an_idle_prediction_thread_keeps_no_request_data_alive(self) -> None:
        class Body:  # stands for a request body the prediction's closure holds
            pass

        body = Body()
        self.assertEqual(run_with_timeout(lambda held=body: type(held).__name__, 5), "Body")
        gone = weakref.ref(body)
        del body
        deadline = time.monotonic() + 5  # the thread drops it right after answering
        while gone() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIsNone(gone())

    def test_an_overrun_is_answered_at_the_deadline_and_counted_until_it_ends(self) -> None:
        release = threading.Event()
        ended = threading.Event()

        def slow() -> str:
            release.wait(10)
            ended.set()
            return "late"

        before = OVERRUNS.count()
        self.assertIsNone(run_with_timeout(slow, 0.05))
        self.assertEqual(OVERRUNS.count(), before + 1)
        self.assertEqual(run_with_timeout(lambda: "meanwhile", 5), "meanwhile")
        release.set()
        self.assertTrue(ended.wait(5))
        for _ in range(100):  # the thread decrements right after the work returns
            if OVERRUNS.count() == before:
                break
            threading.Event().wait(0.01)
        self.assertEqual(OVERRUNS.count(), before)

    def test_a_forked_child_runs_predictions_on_threads_of_its_own(self) -> None:
        run_with_timeout(lambda: None, 5)  # the parent has an idle prediction thread now
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if run_with_timeout(lambda: "child", 5) == "child" else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)


if __name__ == "__main__":
    unittest.main()
