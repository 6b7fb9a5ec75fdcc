"""``tinyserve serve --enable-mlserver``: the flags, the checks, then MLServer serving the model.

Everything that can fail with a clear line fails here, before MLServer starts (which would
log a traceback and, for a model that does not load, exit 0): flags MLServer cannot honour, a
Python outside MLServer 1.7's range, the missing extra, an uvloop that crashes MLServer's
workers, busy ports, and the model itself, loaded once with tinyserve's loader. Then the
process execs ``python -m tinyserve.mlserver_main`` with the settings, keeping its PID.

Ports: ``-p`` is HTTP (REST: ``/invocations`` and V2), gRPC defaults to the HTTP port + 1 and
MLServer's Prometheus metrics to + 2, so ``-p 8080`` gives MLServer's usual 8080/8081/8082 and
servers on one machine do not clash when their HTTP ports are 3 apart. Standard library only:
``tinyserve serve --help`` builds these flags without MLServer installed, and the heavier
standard modules are imported where used, to keep every command's start-up quick.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tinyserve.cli import UsageError, check_env_manager
from tinyserve.errors import ModelLoadError

RUNTIME_CLASS = "tinyserve.mlserver.TinyserveRuntime"
LAUNCHER_MODULE = "tinyserve.mlserver_main"
INSTALL_COMMAND = "pip install 'tinyserve[mlserver]'"
# setup.cfg's [mlserver] extra, for Docker images built from a source tree
REQUIREMENTS = ("mlserver>=1.7,<1.8", "uvloop<0.22")
SUPPORTED_PYTHON = ((3, 9), (3, 13))  # MLServer 1.7.1: Requires-Python >=3.9,<3.13
BROKEN_UVLOOP = (0, 22)  # from here on MLServer 1.7's workers die at start (MLServer #2286)
DEFAULT_MODEL_NAME = "mlflow-model"  # the V2 name `mlflow models serve --enable-mlserver` used
DEFAULT_PORT = 5000
GRPC_OFFSET, METRICS_OFFSET = 1, 2
METRICS_ENDPOINT = "/metrics"

# serve flags with no MLServer counterpart: (attribute, flag, default meaning "not given", why)
UNSUPPORTED = (
    ("threads", "--threads", 8, "MLServer runs predictions on its own thread pool"),
    ("max_in_flight", "--max-in-flight", None, "MLServer queues requests itself"),
    ("max_header_size", "--max-header-size", None, "uvicorn reads the headers"),
    ("header_timeout", "--header-timeout", None, "uvicorn reads the headers"),
    ("log_format", "--log-format json", "text", "MLServer writes its own log lines"),
    ("auth_token_file", "--auth-token-file", None,
     "MLServer's V2 endpoints would stay open; put an authenticating proxy in front"),
    ("cors_allow_origins", "--cors-allow-origins", None, "MLServer sets CORS itself "
     "(MLSERVER_CORS_SETTINGS)"),
    ("ssl_certfile", "--ssl-certfile", None, "MLServer serves plain HTTP; terminate TLS in "
     "front of it"),
    ("ssl_keyfile", "--ssl-keyfile", None, "MLServer serves plain HTTP; terminate TLS in "
     "front of it"),
)
ENGINE_ONLY = (("grpc_port", "--grpc-port"), ("metrics_port", "--metrics-port"),
               ("model_name", "--model-name"), ("max_batch_size", "--max-batch-size"),
               ("max_batch_time", "--max-batch-time"))


def add_mlserver_flags(serve: argparse.ArgumentParser) -> None:
    """The ``serve`` flags of the MLServer engine."""
    group = serve.add_argument_group(
        "MLServer engine", f"V2 inference (REST and gRPC), parallel workers and adaptive "
                           f"batching; needs {INSTALL_COMMAND} (Python 3.9 to 3.12). Here "
                           "env MLSERVER_HTTP_PORT and MLSERVER_PARALLEL_WORKERS come before "
                           "MLFLOW_PORT and MLFLOW_MODELS_WORKERS.")
    group.add_argument("--enable-mlserver", action="store_true",
                       help="serve with MLServer and tinyserve's runtime (-w sets MLServer's "
                            "parallel workers; 0 runs predictions in the server process)")
    group.add_argument("--grpc-port", type=int, default=None,
                       help="gRPC port (default: the HTTP port + 1, env MLSERVER_GRPC_PORT)")
    group.add_argument("--metrics-port", type=int, default=None,
                       help="port of MLServer's Prometheus /metrics (default: the HTTP port + 2, "
                            "env MLSERVER_METRICS_PORT; --no-metrics turns it off)")
    group.add_argument("--model-name", default=None,
                       help=f"name in the V2 paths /v2/models/NAME/... (default env "
                            f"MLSERVER_MODEL_NAME, else {DEFAULT_MODEL_NAME})")
    group.add_argument("--max-batch-size", type=int, default=None,
                       help="adaptive batching of V2 requests: at most this many per batch "
                            "(with --max-batch-time)")
    group.add_argument("--max-batch-time", type=float, default=None,
                       help="adaptive batching: seconds to wait for a batch to fill "
                            "(with --max-batch-size)")


def refuse_engine_flags(args: argparse.Namespace) -> None:
    """The MLServer flags mean nothing to tinyserve's own server: say so."""
    for attribute, flag in ENGINE_ONLY:
        if getattr(args, attribute, None) is not None:
            raise UsageError(f"{flag} needs --enable-mlserver.")


def serve_with_mlserver(args: argparse.Namespace) -> int:
    """Check, load the model, then become MLServer serving it (returns only on errors)."""
    check_env_manager(args)
    refuse_unsupported_flags(args)
    config = build_config(args)
    check_python(sys.version_info[:3])
    check_installed()
    workers = config["server"]["parallel_workers"]
    if workers >= 1:
        check_uvloop(installed_version("uvloop"))
    check_ports(config["server"])
    model_dir = load_model(args.model_uri)
    config["model"]["parameters"]["uri"] = model_dir
    announce(config)
    launch(config)
    return 1  # not reached: launch execs


def refuse_unsupported_flags(args: argparse.Namespace) -> None:
    for attribute, flag, not_given, why in UNSUPPORTED:
        if getattr(args, attribute, not_given) != not_given:
            raise UsageError(f"{flag} is not supported with --enable-mlserver: {why}.")


def check_python(version: Tuple[int, ...]) -> None:
    low, high = SUPPORTED_PYTHON
    if not low <= tuple(version[:2]) < high:
        shown = ".".join(str(part) for part in version)
        raise UsageError(f"--enable-mlserver needs Python 3.9 to 3.12 (MLServer 1.7 supports "
                         f"no other); this is Python {shown}. Serve from a Python 3.12 "
                         f"environment with {INSTALL_COMMAND}, or without --enable-mlserver.")


def check_image_python(version: str) -> None:
    """A Docker image serving through MLServer needs a Python MLServer 1.7 installs on."""
    numbers = tuple(int(part) for part in version.split(".")[:2])
    if not SUPPORTED_PYTHON[0] <= numbers < SUPPORTED_PYTHON[1]:
        raise UsageError(f"--enable-mlserver needs Python 3.9 to 3.12 in the image (MLServer "
                         f"1.7), and the model was saved with Python {version}: pass "
                         "--base-image python:3.12-slim.")


def mlserver_requirements() -> List[str]:
    """The ``[mlserver]`` extra's requirements from tinyserve's installed metadata, else
    setup.cfg's copy in ``REQUIREMENTS`` (a source tree has no metadata)."""
    import importlib.metadata

    try:
        requires = importlib.metadata.requires("tinyserve") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    found = [line.partition(";")[0].strip() for line in requires
             if re.search(r"""\bextra\s*==\s*['"]mlserver['"]""", line.partition(";")[2])]
    return found or list(REQUIREMENTS)


def check_installed() -> None:
    import importlib.util

    if importlib.util.find_spec("mlserver") is None:
        raise UsageError(f"--enable-mlserver needs MLServer, which this Python "
                         f"({sys.executable}) does not have: {INSTALL_COMMAND}")


def installed_version(name: str) -> Optional[str]:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_uvloop(version: Optional[str]) -> None:
    """uvloop 0.22+ kills MLServer 1.7's parallel workers at start; the extra pins it."""
    if version is None or release(version) < BROKEN_UVLOOP:
        return
    raise UsageError(f"uvloop {version} makes MLServer 1.7's parallel workers crash at start "
                     "(MLServer issue #2286): pip install 'uvloop<0.22' (as "
                     f"{INSTALL_COMMAND} does), or serve with -w 0.")


def release(version: str) -> Tuple[int, ...]:
    """``"0.22.0rc1"`` -> ``(0, 22, 0)``: the leading numbers of a version."""
    numbers = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
    return tuple(numbers)


def build_config(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None
                 ) -> Dict[str, Any]:
    """The settings JSON ``tinyserve.mlserver_main`` starts MLServer with (uri filled later)."""
    from tinyserve.metrics import enabled
    from tinyserve.wsgi import DEFAULT_MAX_BODY_SIZE, DEFAULT_TIMEOUT, TIMEOUT_ENV

    env = os.environ if environ is None else environ
    # MLServer's own variables first: KServe and Seldon set them in the containers they run
    port = checked_port(env_int(args.port, "MLSERVER_HTTP_PORT",
                                env_int(None, "MLFLOW_PORT", DEFAULT_PORT, env), env), "-p")
    workers = env_int(args.workers, "MLSERVER_PARALLEL_WORKERS",
                      env_int(None, "MLFLOW_MODELS_WORKERS", 1, env, "number of workers"), env,
                      "number of workers")
    if workers < 0:
        raise UsageError(f"-w/--workers must be 0 or more with --enable-mlserver, got {workers}.")
    server: Dict[str, Any] = {
        "host": args.host, "http_port": port, "parallel_workers": workers, "debug": args.debug,
        "grpc_port": checked_port(env_int(args.grpc_port, "MLSERVER_GRPC_PORT",
                                          port + GRPC_OFFSET, env), "--grpc-port"),
        "metrics_endpoint": None,
    }
    if not args.no_metrics and enabled(None, dict(env)):
        server["metrics_endpoint"] = METRICS_ENDPOINT
        server["metrics_port"] = checked_port(env_int(args.metrics_port, "MLSERVER_METRICS_PORT",
                                                      port + METRICS_OFFSET, env),
                                              "--metrics-port")
    ports = [server["http_port"], server["grpc_port"], server.get("metrics_port")]
    ports = [p for p in ports if p is not None]
    if len(set(ports)) != len(ports):
        raise UsageError(f"The HTTP, gRPC and metrics ports must differ, got {ports}.")
    max_body_size = env_int(args.max_body_size, "TINYSERVE_MAX_BODY_SIZE",
                            DEFAULT_MAX_BODY_SIZE, env, "size in bytes")
    timeout = env_int(args.timeout or None, TIMEOUT_ENV, DEFAULT_TIMEOUT, env,
                      "number of seconds")  # -t 0 counts as not given, as in MLflow
    model: Dict[str, Any] = {
        "name": args.model_name or env.get("MLSERVER_MODEL_NAME") or DEFAULT_MODEL_NAME,
        "implementation": RUNTIME_CLASS,
        "parameters": {"uri": None, "extra": {"timeout": float(timeout),
                                              "max_body_size": max_body_size,
                                              "debug": args.debug}},
    }
    model.update(batching(args.max_batch_size, args.max_batch_time))
    if not args.graceful_timeout >= 0:
        raise UsageError(f"--graceful-timeout must be 0 or more, got {args.graceful_timeout}.")
    return {"server": server, "model": model, "graceful_timeout": args.graceful_timeout}


def env_int(flag: Optional[int], env_name: str, fallback: int, env: Mapping[str, str],
            what: str = "port") -> int:
    """The flag, else the environment variable, else the fallback (``cli.int_setting`` with
    the environment passed in, so settings are computed without touching ``os.environ``)."""
    if flag is not None:
        return flag
    text = env.get(env_name)
    if not text:
        return fallback
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{env_name}={text!r} is not a valid {what}.") from None


def checked_port(port: int, flag: str) -> int:
    if not 1 <= port <= 65535:
        raise UsageError(f"{flag} must be a port from 1 to 65535 with --enable-mlserver, "
                         f"got {port}.")
    return port


def batching(size: Optional[int], seconds: Optional[float]) -> Dict[str, Any]:
    """MLServer batches only with both a size above 1 and a time above 0: ask for both."""
    if size is None and seconds is None:
        return {}
    if size is None or seconds is None or size < 2 or not seconds > 0:
        raise UsageError("Adaptive batching needs both --max-batch-size (2 or more) and "
                         "--max-batch-time (seconds, more than 0).")
    return {"max_batch_size": size, "max_batch_time": seconds}


def check_ports(server: Dict[str, Any]) -> None:
    """A busy port is one line now, not a traceback from one of MLServer's three servers."""
    import socket

    named = [("HTTP", server["http_port"]), ("gRPC", server["grpc_port"])]
    if server.get("metrics_endpoint"):
        named.append(("metrics", server["metrics_port"]))
    host = server["host"]
    for what, port in named:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise ModelLoadError(f"Cannot listen on {host}:{port} ({what}): "
                                     f"{error.strerror}") from None


def load_model(model_uri: str) -> str:
    """Load the model once with tinyserve's loader, so a bad one fails here in one line;
    return its local directory (store URIs are downloaded once, here)."""
    from tinyserve.pyfunc import load_pyfunc
    from tinyserve.uri import resolve_model_uri

    model_dir = resolve_model_uri(model_uri)
    load_pyfunc(model_dir)
    return model_dir


def announce(config: Dict[str, Any]) -> None:
    server, model = config["server"], config["model"]
    host = server["host"]
    metrics = (f", metrics http://{host}:{server['metrics_port']}{METRICS_ENDPOINT}"
               if server.get("metrics_endpoint") else "")
    print(f"tinyserve: serving {model['parameters']['uri']} with MLServer as model "
          f"{model['name']!r}: HTTP http://{host}:{server['http_port']} "
          f"(/invocations, /v2), gRPC {host}:{server['grpc_port']}{metrics}; "
          f"{server['parallel_workers']} parallel worker(s)", file=sys.stderr, flush=True)


def launch_argv(config: Dict[str, Any]) -> List[str]:
    import json

    return [sys.executable, "-m", LAUNCHER_MODULE, json.dumps(config)]


def launch_env(environ: Optional[Mapping[str, str]] = None, root: Optional[str] = None
               ) -> Dict[str, str]:
    """This environment, with tinyserve importable in the new process (and in MLServer's
    spawned workers) when it runs from a source tree (``root``, the directory holding the
    package) rather than from site-packages, which must not come before the standard library."""
    import sysconfig

    env = dict(os.environ if environ is None else environ)
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    if os.path.realpath(root) not in installed:
        current = env.get("PYTHONPATH")
        env["PYTHONPATH"] = root + (os.pathsep + current if current else "")
    return env


def launch(config: Dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    argv = launch_argv(config)
    os.execve(argv[0], argv, launch_env())
