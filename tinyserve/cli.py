"""The ``tinyserve`` command line: argparse, one ``cmd_<name>`` function per command.

Flags follow ``mlflow models serve`` so scripts keep working (``-h`` is the host there too, so
help is ``--help``). Heavy modules are imported inside the command functions: ``tinyserve
--help`` needs nothing but the standard library. User errors print one line and exit non-zero;
tracebacks are for bugs.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Callable, List, Optional

from tinyserve import __version__
from tinyserve.errors import ModelLoadError
from tinyserve.security import add_security_flags

if TYPE_CHECKING:
    from tinyserve.server import WorkerOptions

ENV_MANAGERS = ("local", "virtualenv", "uv", "conda")


class UsageError(Exception):
    """A flag combination tinyserve refuses; printed as one line, exit status 2."""


def env_default(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model-uri", required=True,
                        help="an MLflow model: a directory, file://, runs:/<run_id>/<path>, "
                             "models:/<name>/<version>, models:/<name>@<alias>, "
                             "models:/<name>/latest or models:/<model_id>")
    parser.add_argument("--cache-dir", default=None,
                        help="where models from a tracking server are downloaded (default: "
                             "env TINYSERVE_CACHE_DIR, else ~/.cache/tinyserve)")
    parser.add_argument("--env-manager", default="local",
                        help="only 'local' is supported: tinyserve serves from this environment")
    parser.add_argument("--no-conda", action="store_true",
                        help="same as --env-manager local (kept for MLflow compatibility)")
    parser.add_argument("--install-mlflow", action="store_true",
                        help="not supported: tinyserve serves without MLflow")


def build_parser() -> argparse.ArgumentParser:
    from tinyserve.mlserver_cli import add_mlserver_flags

    parser = argparse.ArgumentParser(
        prog="tinyserve",
        description="Serve MLflow-format models without MLflow.",
    )
    parser.add_argument("--version", action="version", version=f"tinyserve {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser(
        "serve", add_help=False, help="serve a model over HTTP (like `mlflow models serve`)",
        description="Serve a model over HTTP with MLflow's scoring protocol.",
    )
    serve.add_argument("--help", action="help", help="show this help message and exit")
    add_model_flags(serve)
    serve.add_argument("-p", "--port", type=int, default=None,
                       help="port to listen on (default 5000, env MLFLOW_PORT)")
    serve.add_argument("-h", "--host", default=env_default("MLFLOW_HOST", "127.0.0.1"),
                       help="address to bind (default 127.0.0.1, env MLFLOW_HOST)")
    serve.add_argument("-t", "--timeout", type=int, default=None,
                       help="request timeout in seconds (default 60, env "
                            "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT)")
    serve.add_argument("-w", "--workers", type=int, default=None,
                       help="worker processes (default 1, env MLFLOW_MODELS_WORKERS)")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    serve.add_argument("--max-body-size", type=int, default=None,
                       help="largest request body in bytes; larger ones get 413 "
                            "(default 100 MB, env TINYSERVE_MAX_BODY_SIZE)")
    serve.add_argument("--max-in-flight", type=int, default=None,
                       help="requests queued or running per worker; more get 503 with "
                            "Retry-After (default 128, env TINYSERVE_MAX_IN_FLIGHT)")
    serve.add_argument("--max-header-size", type=int, default=None,
                       help="largest request line plus headers in bytes; larger get 431 "
                            "(default 65536, env TINYSERVE_MAX_HEADER_SIZE)")
    serve.add_argument("--header-timeout", type=float, default=None,
                       help="seconds a client has to send its request line and headers; "
                            "slower connections are closed (default 10, 0 = no limit)")
    serve.add_argument("--graceful-timeout", type=float, default=30.0,
                       help="on SIGTERM/SIGINT, seconds to finish the requests in progress "
                            "before exiting (default 30)")
    serve.add_argument("--no-metrics", action="store_true",
                       help="do not record metrics nor serve /metrics (default: served, in "
                            "Prometheus text format, unless env TINYSERVE_METRICS=0)")
    serve.add_argument("--debug", action="store_true",
                       help="log at debug level and include stack traces in error bodies")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="text lines or one JSON object per line (default text)")
    add_security_flags(serve)
    add_mlserver_flags(serve)
    serve.set_defaults(func=cmd_serve)

    from tinyserve.batch_cli import add_predict_command
    from tinyserve.docker_cli import add_docker_commands

    add_predict_command(commands, add_model_flags)
    add_docker_commands(commands, add_model_flags)
    return parser


HERE_NOT_ELSEWHERE = ("tinyserve serves from the current Python environment. Install the "
                      "model's requirements.txt here")


def check_env_manager(args: argparse.Namespace, why: str = HERE_NOT_ELSEWHERE) -> None:
    """tinyserve never builds environments: only ``local`` is accepted; ``why`` says what
    happens instead."""
    if args.install_mlflow:
        raise UsageError("--install-mlflow is not supported: tinyserve serves models without "
                         "MLflow, from the current Python environment.")
    manager = "local" if args.no_conda else args.env_manager
    if manager not in ENV_MANAGERS:
        raise UsageError(f"Invalid value for --env-manager: {manager!r}. "
                         f"Must be one of {list(ENV_MANAGERS)}.")
    if manager != "local":
        raise UsageError(f"--env-manager {manager} is not supported: {why}; use "
                         "--env-manager local.")


def resolve_timeout(flag: Optional[int]) -> float:
    """``-t 0`` counts as not given, as in MLflow; then the env var, then 60 seconds."""
    return float(int_setting(flag or None, "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", 60,
                             "number of seconds"))


def int_setting(flag: Optional[int], env_name: str, fallback: int, what: str) -> int:
    """A flag's value, else the environment variable's, else the fallback; a bad env value is
    a usage error naming the variable (not a traceback while the parser is built)."""
    if flag is not None:
        return flag
    text = os.environ.get(env_name)
    if not text:
        return fallback
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{env_name}={text!r} is not a valid {what}.") from None


def positive_setting(flag: Optional[int], env_name: str, fallback: int, option: str) -> int:
    """``int_setting`` for counts and sizes, which must be at least 1."""
    value = int_setting(flag, env_name, fallback, f"value for {option}")
    if value < 1:
        raise UsageError(f"{option} must be at least 1, got {value}.")
    return value


def worker_options(args: argparse.Namespace) -> "WorkerOptions":
    from tinyserve.connections import DEFAULT_HEADER_TIMEOUT
    from tinyserve.overload import DEFAULT_MAX_IN_FLIGHT
    from tinyserve.server import DEFAULT_MAX_HEADER_SIZE, WorkerOptions

    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}.")
    if args.header_timeout is not None and not args.header_timeout >= 0:
        raise UsageError(f"--header-timeout must be 0 or more, got {args.header_timeout}.")
    return WorkerOptions(
        threads=args.threads,
        graceful_timeout=args.graceful_timeout,
        header_timeout=(DEFAULT_HEADER_TIMEOUT if args.header_timeout is None
                        else args.header_timeout),
        max_in_flight=positive_setting(args.max_in_flight, "TINYSERVE_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT,
                                       "--max-in-flight"),
        max_header_size=positive_setting(args.max_header_size, "TINYSERVE_MAX_HEADER_SIZE",
                                         DEFAULT_MAX_HEADER_SIZE, "--max-header-size"),
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from tinyserve.server import bind_socket, configure_logging, serve
    from tinyserve.mlserver_cli import refuse_engine_flags, serve_with_mlserver
    from tinyserve.security import load_security
    from tinyserve.wsgi import DEFAULT_MAX_BODY_SIZE, create_app

    if args.enable_mlserver:
        return serve_with_mlserver(args)
    refuse_engine_flags(args)
    check_env_manager(args)
    workers = positive_setting(args.workers, "MLFLOW_MODELS_WORKERS", 1, "--workers")
    options = worker_options(args)
    configure_logging(args.debug, args.log_format)
    port = int_setting(args.port, "MLFLOW_PORT", 5000, "port")
    max_body_size = int_setting(args.max_body_size, "TINYSERVE_MAX_BODY_SIZE",
                                DEFAULT_MAX_BODY_SIZE, "size in bytes")
    guard, ssl_context = load_security(args)
    app = create_app(args.model_uri, timeout=resolve_timeout(args.timeout),
                     max_body_size=max_body_size, debug=args.debug,
                     metrics=False if args.no_metrics else None, guard=guard)
    try:
        sock = bind_socket(args.host, port)
    except OSError as error:
        raise ModelLoadError(f"Cannot listen on {args.host}:{port}: {error.strerror}") from None
    return serve(app, workers=workers, sock=sock, options=options._replace(ssl_context=ssl_context))


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    if getattr(args, "cache_dir", None):
        os.environ["TINYSERVE_CACHE_DIR"] = args.cache_dir  # read where models are resolved
    try:
        return command(args)
    except UsageError as error:
        print(f"tinyserve: error: {error}", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        print(f"tinyserve: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

