"""The ``tinyserve predict`` command line, with ``mlflow models predict``'s flags.

Kept apart from ``batch`` so that building the argument parser imports only the standard
library. Where tinyserve differs from MLflow (the input kind and the output format follow the
file names, CSV is read with the signature's types, errors are one line) the README says so.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Dict, Optional

DEFAULT_BATCH_SIZE = 50_000  # scripts/bench_predict.py: the README gives the sweep behind it
INPUT_KINDS = ("json", "csv", "jsonl", "parquet")
OUTPUT_FORMATS = ("json", "csv", "jsonl")
EXTENSION_KINDS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
                   ".json": "json"}


def add_predict_command(commands: Any, add_model_flags: Callable[[argparse.ArgumentParser], None]
                        ) -> None:
    predict = commands.add_parser(
        "predict", help="score a file or a pipe (like `mlflow models predict`)",
        description="Score a file or standard input with the model; write the predictions to a "
                    "file or standard output.",
    )
    add_model_flags(predict)
    predict.add_argument("-i", "--input-path", default=None,
                         help="input file (default: standard input)")
    predict.add_argument("-o", "--output-path", default=None,
                         help="output file (default: standard output); written only when every "
                              "row was scored")
    predict.add_argument("-t", "--content-type", default=None,
                         help="input kind: json, csv, jsonl or parquet (default: from the input "
                              "file's extension, else json)")
    predict.add_argument("--output-format", choices=OUTPUT_FORMATS, default=None,
                         help="json (MLflow's document), csv or jsonl (default: from the output "
                              "file's extension, else json)")
    predict.add_argument("--include-input", action="store_true",
                         help="write the input columns before the predictions (csv, jsonl)")
    predict.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                         help=f"rows per chunk for csv and jsonl input (default "
                              f"{DEFAULT_BATCH_SIZE}; 0 scores the input whole)")
    predict.add_argument("-q", "--quiet", action="store_true",
                         help="no progress line (it is shown only when stderr is a terminal)")
    predict.add_argument("-r", "--pip-requirements-override", default=None,
                         help="not supported: tinyserve scores in the current environment")
    predict.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                         help="set an environment variable before the model loads (repeatable)")
    predict.add_argument("--debug", action="store_true", help="log at debug level")
    predict.set_defaults(func=cmd_predict)


def _kind_from_path(path: Optional[str], kinds: Dict[str, str], fallback: str) -> str:
    if path:
        extension = os.path.splitext(path)[1].lower()
        if extension in kinds:
            return kinds[extension]
    return fallback


def resolve_input_kind(flag: Optional[str], input_path: Optional[str]) -> str:
    if flag is None:
        return _kind_from_path(input_path, EXTENSION_KINDS, "json")
    if flag.lower() not in INPUT_KINDS:
        raise ValueError(f"Content type must be one of json, csv, jsonl or parquet, got {flag!r}.")
    return flag.lower()


def resolve_output_format(flag: Optional[str], output_path: Optional[str]) -> str:
    if flag is not None:
        return flag
    kinds = {ext: kind for ext, kind in EXTENSION_KINDS.items() if kind in OUTPUT_FORMATS}
    return _kind_from_path(output_path, kinds, "json")


def parse_env(pairs: list) -> Dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Invalid value for '--env': {pair!r} is not a valid key value pair, "
                             "expecting `key=value`")
        env[key] = value
    return env


def cmd_predict(args: argparse.Namespace) -> int:
    from tinyserve.cli import UsageError, check_env_manager

    check_env_manager(args)
    if args.pip_requirements_override:
        raise UsageError("--pip-requirements-override is not supported: tinyserve scores in the "
                         "current Python environment; install the packages there instead.")
    try:
        kind = resolve_input_kind(args.content_type, args.input_path)
        env = parse_env(args.env)
    except ValueError as error:
        raise UsageError(str(error)) from None
    output_format = resolve_output_format(args.output_format, args.output_path)
    if args.include_input and output_format == "json":
        raise UsageError("--include-input needs --output-format csv or jsonl.")
    if args.batch_size < 0:
        raise UsageError(f"--batch-size must be 0 or more, got {args.batch_size}.")
    os.environ.update(env)
    return _run(args, kind, output_format)


def _run(args: argparse.Namespace, kind: str, output_format: str) -> int:
    import logging

    from tinyserve.batch import PredictFailed, predict
    from tinyserve.pyfunc import load_pyfunc
    from tinyserve.scoring import Scorer
    from tinyserve.server import configure_logging

    configure_logging(args.debug)
    if not args.debug:
        logging.getLogger("tinyserve").setLevel(logging.WARNING)
    scorer = Scorer(load_pyfunc(args.model_uri), debug=args.debug)
    show_progress = sys.stderr.isatty() and not args.quiet
    try:
        predict(scorer, args.input_path, kind, args.output_path, output_format,
                args.batch_size, args.include_input, show_progress)
    except PredictFailed as error:
        print("tinyserve: error: " + " ".join(str(error).split()), file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tinyserve predict ... | head`: the reader has had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141  # what a shell reports for a process ended by SIGPIPE
    return 0
