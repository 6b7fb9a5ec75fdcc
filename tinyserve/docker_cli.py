"""The ``generate-dockerfile`` and ``build-docker`` command lines, with MLflow's flags.

Kept apart from ``docker`` (the context builder) so that building the argument parser, which
every ``tinyserve`` command does, imports only argparse: ``docker`` pulls in
``importlib.metadata`` and the model readers, about 80 ms of start-up for nothing.
"""
from __future__ import annotations

import argparse
from typing import Callable

DEFAULT_OUTPUT_DIRECTORY = "mlflow-dockerfile"  # MLflow's default: scripts keep working
DEFAULT_IMAGE_NAME = "mlflow-pyfunc-servable"  # MLflow's default


def add_docker_commands(commands: "argparse._SubParsersAction",
                        add_model_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``generate-dockerfile`` and ``build-docker`` on the CLI's subparsers."""
    generate = commands.add_parser(
        "generate-dockerfile", help="write a Docker build context serving a model",
        description="Write a Docker build context (Dockerfile, model, tinyserve) for a model.")
    add_model_flags(generate)
    generate.add_argument("-d", "--output-directory", default=DEFAULT_OUTPUT_DIRECTORY,
                          help=f"directory to write (default {DEFAULT_OUTPUT_DIRECTORY})")
    generate.add_argument("--force", action="store_true",
                          help="write into a non-empty directory that is not a tinyserve context")
    _add_image_flags(generate)
    generate.set_defaults(func=cmd_generate_dockerfile)

    build = commands.add_parser(
        "build-docker", help="build a Docker image serving a model",
        description="Generate a build context in a temporary directory and run docker build.")
    add_model_flags(build)
    build.add_argument("-n", "--name", default=DEFAULT_IMAGE_NAME,
                       help=f"image name (default {DEFAULT_IMAGE_NAME})")
    _add_image_flags(build)
    build.set_defaults(func=cmd_build_docker)


def _add_image_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-image", default=None,
                        help="base image with python 3.9+ and pip (default python:<the model's "
                             "python_env.yaml version>-slim)")
    parser.add_argument("--wheelhouse", default=None, metavar="DIR",
                        help="directory of wheels to install from, offline (pip --no-index)")
    parser.add_argument("--mlflow-home", default=None, help="not supported: no MLflow in the image")
    parser.add_argument("--install-java", default=None, metavar="BOOLEAN",
                        help="not supported: tinyserve serves python_function models only")
    parser.add_argument("--enable-mlserver", action="store_true",
                        help="serve with MLServer (V2 REST on 8080, gRPC on 8081, metrics on "
                             "8082) instead of tinyserve's own server")


def cmd_generate_dockerfile(args: argparse.Namespace) -> int:
    from tinyserve.docker import cmd_generate_dockerfile as run

    return run(args)


def cmd_build_docker(args: argparse.Namespace) -> int:
    from tinyserve.docker import cmd_build_docker as run

    return run(args)
