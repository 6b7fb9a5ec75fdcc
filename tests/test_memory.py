"""After a large request the worker gives the memory it used back to the system."""
from __future__ import annotations

import unittest

from tests.support import fixture, request, start_tinyserve

ROWS = 1_500_000  # a 12 MB CSV; its frame and answer take about 40 MB more


def vm_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


class LargeRequestMemoryTest(unittest.TestCase):
    def test_resident_memory_returns_near_its_level_before_large_requests(self) -> None:
        body = b"a,b\n" + b"1.5,0.5\n5.5,2.5\n" * (ROWS // 2)
        server = start_tinyserve(fixture("sk_pickle"))
        try:
            pid = server.process.pid
            small = request(server.port, "POST", "/invocations", b"a,b\n1.5,0.5\n",
                            {"Content-Type": "text/csv"})
            self.assertEqual(small.status, 200)
            before = vm_rss_mib(pid)
            for _ in range(3):
                answer = request(server.port, "POST", "/invocations", body,
                                 {"Content-Type": "text/csv"}, timeout=120)
                self.assertEqual(answer.status, 200)
                self.assertEqual(answer.json()["predictions"][:2], [0, 1])
            grown = vm_rss_mib(pid) - before
        finally:
            server.stop()
        # Measured: +21 MiB with the memory returned, +95 MiB without it.
        self.assertLess(grown, 50, f"VmRSS grew {grown:.1f} MiB")


if __name__ == "__main__":
    unittest.main()
