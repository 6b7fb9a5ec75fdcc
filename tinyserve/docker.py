"""``tinyserve generate-dockerfile`` and ``tinyserve build-docker``: container build contexts.

A context holds everything an image needs and nothing from a package index that is not on one:
``Dockerfile``, ``model/`` (a copy of the model), ``tinyserve/`` (a copy of this package, which
is on no index), ``requirements.txt`` (tinyserve's dependencies plus the model's requirements
without MLflow's own lines) and, for air-gapped sites, ``wheelhouse/`` (pip then installs with
``--no-index``). ``build-docker`` writes the same context to a temporary directory and runs
``docker build`` there. Standard library only.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

import tinyserve
from tinyserve import dockerfile_text as text
from tinyserve.cli import UsageError, check_env_manager
from tinyserve.docker_cli import DEFAULT_IMAGE_NAME
from tinyserve.errors import ModelLoadError
from tinyserve.mlmodel import read_mlmodel
from tinyserve.mlserver_cli import check_image_python, mlserver_requirements
from tinyserve.requirements import (drop_mlflow_requirements, read_requirements,
                                    requirement_name)
from tinyserve.uri import resolve_model_uri
from tinyserve.yaml_subset import parse_yaml

# setup.cfg's install_requires; used when tinyserve runs from a source tree without metadata.
FALLBACK_DEPENDENCIES = ("waitress>=2.1", "numpy>=1.21", "pandas>=1.3", "cloudpickle>=2.0")
MINIMUM_PYTHON = (3, 9)
CONTEXT_ENTRIES = (text.MODEL_DIR_NAME, text.PACKAGE_DIR_NAME, text.REQUIREMENTS_NAME,
                   text.WHEELHOUSE_DIR_NAME, "Dockerfile")
WHEEL_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2")
TRUE_WORDS = ("true", "1", "yes", "y", "t", "on")  # click's BOOLEAN, as MLflow parses it
FALSE_WORDS = ("false", "0", "no", "n", "f", "off")
EXTRA_MARKER = re.compile(r"\bextra\s*==")


def check_image_flags(args: argparse.Namespace) -> None:
    """MLflow's flags that make no sense for a tinyserve image get one clear line."""
    if args.install_mlflow:
        raise UsageError("--install-mlflow is not supported: the image serves the model with "
                         "tinyserve, without MLflow.")
    if args.mlflow_home is not None:
        raise UsageError("--mlflow-home is not supported: the image serves the model with "
                         "tinyserve, without MLflow.")
    java = args.install_java
    if java is not None and java.strip().lower() not in FALSE_WORDS:
        if java.strip().lower() in TRUE_WORDS:
            raise UsageError("--install-java is not supported: tinyserve serves python_function "
                             "models, which need no Java.")
        raise UsageError(f"Invalid value for --install-java: {java!r} is not a valid boolean.")
    if args.base_image is not None:
        check_base_image(args.base_image)
    check_env_manager(args, why="the image installs the model's requirements.txt into its "
                                "own Python with pip")


def check_base_image(image: str) -> None:
    """One image reference: a newline or space would inject Dockerfile text."""
    if not image.strip() or any(char.isspace() for char in image):
        raise UsageError(f"Invalid --base-image {image!r}: give one image reference.")


def cmd_generate_dockerfile(args: argparse.Namespace) -> int:
    check_image_flags(args)
    context = generate_context(args.model_uri, args.output_directory,
                               base_image=args.base_image, wheelhouse=args.wheelhouse,
                               force=args.force, mlserver=args.enable_mlserver)
    _say(f"wrote a Docker build context to {context}; build it with: "
         f"docker build -t {DEFAULT_IMAGE_NAME} {context}")
    return 0


def cmd_build_docker(args: argparse.Namespace) -> int:
    check_image_flags(args)
    docker = shutil.which("docker")
    if docker is None:
        raise ModelLoadError("build-docker needs the docker command, which is not on PATH. "
                             "Install Docker, or write the context with generate-dockerfile and "
                             "build it where an engine runs.")
    with tempfile.TemporaryDirectory(prefix="tinyserve-docker-") as scratch:
        context = generate_context(args.model_uri, os.path.join(scratch, "context"),
                                   base_image=args.base_image, wheelhouse=args.wheelhouse,
                                   mlserver=args.enable_mlserver)
        _check_engine(docker)
        command = [docker, "build", "-t", args.name, "-f", "Dockerfile", "."]
        _say("running: " + " ".join(["docker", *command[1:]]))
        status = subprocess.call(command, cwd=context)
    if status != 0:
        raise ModelLoadError(f"docker build failed with exit status {status} (its output is "
                             "above).")
    _say(f"built image {args.name}; run it with: docker run -p 8080:8080 {args.name}")
    return 0


def _check_engine(docker: str) -> None:
    """Fail in one line when no Docker engine answers, before a long build is started."""
    try:
        probe = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ModelLoadError(f"Cannot reach a Docker engine: `docker info` failed ({error}).") \
            from None
    if probe.returncode != 0:
        lines = [line.strip() for line in (probe.stderr + probe.stdout).splitlines()
                 if line.strip()]
        reason = lines[-1] if lines else f"exit status {probe.returncode}"
        raise ModelLoadError(f"Cannot reach a Docker engine: `docker info` says: {reason} "
                             "Start Docker, or build the generate-dockerfile context where an "
                             "engine runs.")


def generate_context(model_uri: str, output_dir: str, base_image: Optional[str] = None,
                     wheelhouse: Optional[str] = None, force: bool = False,
                     mlserver: bool = False) -> Path:
    """Write a build context for the model to ``output_dir``; return its absolute path
    (``mlserver``: an image serving through MLServer, with the ``[mlserver]`` extra)."""
    model_dir = resolve_model_uri(model_uri)
    spec = read_mlmodel(model_dir)
    if spec.pyfunc is None:
        raise ModelLoadError(f"The model at {model_dir} has no python_function flavor; "
                             "tinyserve serves python_function models only.")
    image = base_image if base_image is not None else default_base_image(model_dir, mlserver)
    check_base_image(image)
    wheels = _check_wheelhouse(wheelhouse) if wheelhouse is not None else None
    context = Path(output_dir).expanduser().resolve()
    for source, what in ((model_dir, "model directory"), (wheels, "wheelhouse")):
        if source is not None and _overlaps(Path(source), context):
            raise UsageError(f"The output directory {context} overlaps the {what} {source}; "
                             "choose another -d.")
    _prepare_output_dir(context, force)

    kept, dropped = drop_mlflow_requirements(read_requirements(model_dir))
    if dropped:
        _say("left out of the image's requirements (tinyserve serves the model without "
             "MLflow): " + ", ".join(dropped))
    engine = mlserver_requirements() if mlserver else []
    lines = [*tinyserve_dependencies(), *engine, *(_relocate(line, model_dir) for line in kept)]
    (context / text.REQUIREMENTS_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(model_dir, context / text.MODEL_DIR_NAME, symlinks=False)
    shutil.copytree(os.path.dirname(os.path.abspath(tinyserve.__file__)),
                    context / text.PACKAGE_DIR_NAME,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if wheels is not None:
        shutil.copytree(wheels, context / text.WHEELHOUSE_DIR_NAME)
    options = text.DockerfileOptions(base_image=image, model_name=os.path.basename(model_dir),
                                     offline=wheels is not None, mlserver=mlserver)
    (context / "Dockerfile").write_text(text.render_dockerfile(options), encoding="utf-8")
    _make_world_readable(context)
    return context


def tinyserve_dependencies() -> List[str]:
    """tinyserve's own run-time requirements (not its extras), from its installed metadata."""
    try:
        requires = importlib.metadata.requires("tinyserve")
    except importlib.metadata.PackageNotFoundError:
        requires = None
    if not requires:
        return list(FALLBACK_DEPENDENCIES)
    return [line for line in requires if not EXTRA_MARKER.search(line.partition(";")[2])]


def default_base_image(model_dir: str, mlserver: bool = False) -> str:
    """``python:<version>-slim``: the model's python_env.yaml version, else this Python's."""
    version = model_python_version(model_dir)
    if mlserver:
        check_image_python(version or "{}.{}".format(*sys.version_info[:2]))
    if version is None:
        return "python:{}.{}-slim".format(*sys.version_info[:2])
    numbers = tuple(int(part) for part in version.split(".")[:2])
    if numbers < MINIMUM_PYTHON:
        raise UsageError(f"The model was saved with Python {version}, and tinyserve needs Python "
                         "{}.{} or newer: pass --base-image python:3.X-slim with a newer "
                         "version.".format(*MINIMUM_PYTHON))
    return f"python:{version}-slim"


def model_python_version(model_dir: str) -> Optional[str]:
    """The ``python:`` version of ``python_env.yaml``, when it is a plain ``X.Y[.Z]``."""
    path = os.path.join(model_dir, "python_env.yaml")
    try:
        with open(path, encoding="utf-8") as handle:
            data = parse_yaml(handle.read(), source=path)
    except (OSError, UnicodeDecodeError, ModelLoadError):
        return None
    version = data.get("python") if isinstance(data, dict) else None
    # A bare 3.10 reads as the float 3.1: only strings are trusted.
    if not isinstance(version, str):
        return None
    parts = version.strip().split(".")
    if not 2 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        return None
    return version.strip()


def _relocate(line: str, model_dir: str) -> str:
    """Point a relative file reference of the model's requirements into ``model/``."""
    for option in ("-r ", "-c ", "--requirement ", "--constraint "):
        if line.startswith(option):
            target = line[len(option):].strip()
            if not os.path.isabs(target) and "://" not in target:
                return f"{option.strip()} {text.MODEL_DIR_NAME}/{target}"
            return line
    if (requirement_name(line) is None and not line.startswith("-") and "://" not in line
            and not os.path.isabs(line) and os.path.exists(os.path.join(model_dir, line))):
        return f"{text.MODEL_DIR_NAME}/{line}"
    return line


def _check_wheelhouse(wheelhouse: str) -> str:
    path = os.path.abspath(os.path.expanduser(wheelhouse))
    if not os.path.isdir(path):
        raise ModelLoadError(f"Wheelhouse directory not found: {path}")
    if not any(name.endswith(WHEEL_SUFFIXES) for name in os.listdir(path)):
        raise ModelLoadError(f"The wheelhouse {path} holds no wheels or source archives; fill it "
                             "with: pip download -r requirements.txt -d " + wheelhouse)
    return path


def _overlaps(source: Path, context: Path) -> bool:
    source = source.resolve()
    return source == context or source in context.parents or context in source.parents


def _prepare_output_dir(context: Path, force: bool) -> None:
    """Create the directory; replace an earlier context; refuse other non-empty directories."""
    if context.exists() and not context.is_dir():
        raise UsageError(f"The output directory {context} is a file.")
    context.mkdir(parents=True, exist_ok=True)
    if any(context.iterdir()) and not force and not _is_tinyserve_context(context):
        raise UsageError(f"The output directory {context} is not empty and holds no earlier "
                         "tinyserve context; choose another -d or pass --force.")
    for name in CONTEXT_ENTRIES:
        entry = context / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()


def _is_tinyserve_context(context: Path) -> bool:
    try:
        with open(context / "Dockerfile", encoding="utf-8") as handle:
            return handle.readline().startswith(text.GENERATED_MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def _make_world_readable(context: Path) -> None:
    """COPY keeps file modes: a 0600 model file would be unreadable to the image's user."""
    for root, dirs, files in os.walk(context):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            executable = os.stat(path).st_mode & 0o111
            os.chmod(path, 0o755 if executable else 0o644)


def _say(message: str) -> None:
    print(f"tinyserve: {message}", file=sys.stderr)


__all__: Sequence[str] = ("cmd_build_docker", "cmd_generate_dockerfile",
                          "generate_context", "tinyserve_dependencies", "default_base_image")
