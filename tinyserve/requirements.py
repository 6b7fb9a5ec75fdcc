"""A model's ``requirements.txt``: read it, leave MLflow out, compare it with what is installed.

MLflow writes ``mlflow==<version>`` into every model's requirements (often as the only line);
tinyserve replaces MLflow, so ``mlflow``, ``mlflow-skinny`` and ``mlflow-tracing`` lines are
dropped wherever requirements are installed or checked. The check uses ``importlib.metadata``
only; version specifiers are compared when ``packaging`` happens to be installed, else only
exact ``==`` pins are. A missing module found while loading a model is turned into the
distribution to install (``sklearn`` -> ``scikit-learn``), with the model's pinned line if any.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

logger = logging.getLogger("tinyserve")

REQUIREMENTS_FILE_NAME = "requirements.txt"
MLFLOW_DISTRIBUTIONS = frozenset({"mlflow", "mlflow-skinny", "mlflow-tracing"})
# import name -> distribution name, where they differ (the usual suspects of ML models).
IMPORT_TO_DISTRIBUTION: Dict[str, str] = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "Crypto": "pycryptodome",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "fitz": "PyMuPDF",
    "sentencepiece": "sentencepiece",
    "tensorflow_hub": "tensorflow-hub",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "torch": "torch",
    "gensim": "gensim",
    "Levenshtein": "python-Levenshtein",
}
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")


class RequirementMismatch(NamedTuple):
    """A requirement the running environment does not satisfy (MLflow's warning wording)."""

    name: str
    installed_version: Optional[str]
    requirement: str

    def __str__(self) -> str:
        return (f"{self.name} (current: {self.installed_version or 'uninstalled'}, "
                f"required: {self.requirement})")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: ``Scikit_Learn`` and ``scikit-learn`` are the same project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(model_dir: str) -> List[str]:
    """The requirement lines of ``<model_dir>/requirements.txt`` (no comments, no blanks)."""
    path = os.path.join(model_dir, REQUIREMENTS_FILE_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return []
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def requirement_name(line: str) -> Optional[str]:
    """The distribution a requirement line names; None for options, paths and URLs."""
    if line.startswith("-") or "://" in line or line.startswith((".", "/")):
        return None
    match = _NAME.match(line)
    if not match:
        return None
    rest = match.group(3)
    if rest and rest[0] not in "=<>!~;@,":
        return None
    return match.group(1)


def is_mlflow_requirement(line: str) -> bool:
    name = requirement_name(line)
    return name is not None and normalize_name(name) in MLFLOW_DISTRIBUTIONS


def drop_mlflow_requirements(lines: List[str]) -> Tuple[List[str], List[str]]:
    """``(kept, dropped)``: tinyserve serves the model in MLflow's place."""
    kept = [line for line in lines if not is_mlflow_requirement(line)]
    dropped = [line for line in lines if is_mlflow_requirement(line)]
    return kept, dropped


def requirement_line_for(lines: List[str], distribution: str) -> Optional[str]:
    """The requirement line naming ``distribution``, if the model lists it."""
    wanted = normalize_name(distribution)
    for line in lines:
        name = requirement_name(line)
        if name is not None and normalize_name(name) == wanted:
            return line.split(";", 1)[0].strip()
    return None


def distribution_for_module(module_name: str) -> str:
    """The distribution that provides an import name (best effort, e.g. sklearn -> scikit-learn)."""
    for candidate in (module_name, module_name.split(".")[0]):
        if candidate in IMPORT_TO_DISTRIBUTION:
            return IMPORT_TO_DISTRIBUTION[candidate]
    top = module_name.split(".")[0]
    packages = getattr(importlib.metadata, "packages_distributions", None)
    if packages is not None:
        try:
            found = packages().get(top)
        except Exception:  # broken metadata of an unrelated package must not hide the hint
            found = None
        if found:
            return found[0]
    return top


def install_hint(module_name: str, model_dir: str) -> str:
    """``pip install <what>`` for a missing module, pinned as the model's requirements pin it."""
    distribution = distribution_for_module(module_name)
    pinned = requirement_line_for(read_requirements(model_dir), distribution)
    if pinned:
        return f"pip install '{pinned}' (the version the model's requirements.txt lists)"
    return f"pip install {distribution}"


def check_requirement(line: str) -> Optional[RequirementMismatch]:
    """None when the environment satisfies ``line`` (or the line cannot be checked)."""
    name = requirement_name(line)
    if name is None:
        return None
    requirement, _, marker = line.partition(";")
    if marker.strip() and not _marker_applies(marker.strip()):
        return None
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return RequirementMismatch(name, None, line)
    specifier = _NAME.match(requirement).group(3).split("@", 1)[0]
    if not _version_satisfies(installed, specifier):
        return RequirementMismatch(name, installed, line)
    return None


def check_installed(model_dir: str) -> List[RequirementMismatch]:
    """Requirements of the model (MLflow's own left out) that the environment does not meet."""
    kept, _ = drop_mlflow_requirements(read_requirements(model_dir))
    return [mismatch for mismatch in map(check_requirement, kept) if mismatch is not None]


def warn_about_mismatches(model_dir: str) -> List[RequirementMismatch]:
    """Log MLflow's warning when the environment does not match the model's requirements."""
    try:
        mismatches = check_installed(model_dir)
    except Exception as error:  # a check must never stop a model from loading
        logger.warning("Could not compare the model's requirements with the environment: %r",
                       error)
        return []
    if mismatches:
        details = " - " + "\n - ".join(map(str, mismatches))
        logger.warning("Detected one or more mismatches between the model's dependencies and "
                       "the current Python environment:\n%s", details)
    return mismatches


def _version_satisfies(installed: str, specifier: str) -> bool:
    specifier = specifier.strip()
    if not specifier:
        return True
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        pins = [part.strip()[2:].strip() for part in specifier.split(",")
                if part.strip().startswith("==") and not part.strip().startswith("===")]
        return all(pin == installed or pin.endswith("*") for pin in pins)
    try:
        return SpecifierSet(specifier).contains(installed, prereleases=True)
    except InvalidSpecifier:
        return True


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:
        return True
    try:
        return Marker(marker).evaluate()
    except InvalidMarker:
        return True
