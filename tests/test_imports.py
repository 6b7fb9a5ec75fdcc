"""The core imports only the standard library; heavy packages load when a model is served."""
from __future__ import annotations

import json
import subprocess
import sys
import unittest

from tests.support import REPO, child_env

CORE_MODULES = ["tinyserve", "tinyserve.cli", "tinyserve.wsgi", "tinyserve.payload",
                "tinyserve.mlmodel", "tinyserve.yaml_subset", "tinyserve.signature",
                "tinyserve.schema", "tinyserve.uri", "tinyserve.server", "tinyserve.errors",
                "tinyserve.scoring", "tinyserve.flavors", "tinyserve.__main__",
                "tinyserve.batch_cli", "tinyserve.progress", "tinyserve.docker", "tinyserve.docker_cli",
                "tinyserve.dockerfile_text", "tinyserve.model_uri", "tinyserve.cache",
                "tinyserve.stores", "tinyserve.stores.base", "tinyserve.stores.rules",
                "tinyserve.stores.sqlite", "tinyserve.stores.files", "tinyserve.stores.rest",
                "tinyserve.stores.artifacts", "tinyserve.access_log", "tinyserve.overload",
                "tinyserve.security", "tinyserve.tls", "tinyserve.metrics", "tinyserve.metrics_text",
                "tinyserve.refused_requests", "tinyserve.connections", "tinyserve.deadlines", "tinyserve.responses",
                "tinyserve.log_output", "tinyserve.memory"]
HEAVY = ["numpy", "pandas", "cloudpickle", "waitress", "mlflow", "sklearn", "skops", "pyarrow"]

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules)))
"""


class CoreImportsTest(unittest.TestCase):
    def loaded_after_importing(self, *modules: str) -> set:
        out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True,
                             env=child_env(), cwd=REPO, check=True).stdout
        return set(json.loads(out))

    def test_core_modules_import_no_third_party_package(self) -> None:
        for module in CORE_MODULES:
            with self.subTest(module=module):
                loaded = self.loaded_after_importing(module)
                self.assertIn(module, loaded)
                heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
                self.assertEqual(heavy, [], f"{module} imported {heavy}")

    def test_the_probe_does_see_heavy_imports(self) -> None:
        loaded = self.loaded_after_importing("tinyserve.frames")
        self.assertIn("pandas", loaded)

    def test_help_runs_without_site_packages(self) -> None:
        for args in (["--help"], ["serve", "--help"], ["predict", "--help"],
                     ["generate-dockerfile", "--help"], ["build-docker", "--help"]):
            with self.subTest(args=args):
                result = subprocess.run([sys.executable, "-S", "-m", "tinyserve", *args],
                                        capture_output=True, env=child_env(), cwd=REPO)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(b"usage: tinyserve", result.stdout)


if __name__ == "__main__":
    unittest.main()
