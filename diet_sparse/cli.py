"""Command line: ``diet-sparse train | parse | test | sweep | serve | shell``.

Each command only parses its arguments and calls the library function of the same name. The
library prints nothing: the tables and "written to" lines a user reads are printed here, and the
library's progress (INFO records of the ``diet_sparse`` loggers) is shown as plain lines on
stderr. Every argument is checked by argparse with the library's own rule and default (a bad
one exits 2 with argparse's usage line); errors a user can fix (data, config, model, output
directory, address) print one ``error:`` line and exit 2, before any training starts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from diet_sparse import evaluation, server
from diet_sparse import sweep as sweeping
from diet_sparse.config import ConfigError
from diet_sparse.data import TrainingDataError
from diet_sparse.persistence import check_model_directory

BAD_INPUT = 2  # the exit code of argparse's own errors, used for every error a user can fix


def _train(args: argparse.Namespace) -> int:
    from diet_sparse.config import as_config
    from diet_sparse.data import load_training_data

    # All that could fail once training is over is checked first, before TensorFlow loads.
    config = as_config(args.config)
    check_model_directory(args.out)
    data = load_training_data(args.data)

    from diet_sparse.training import train

    train(data, config, out=args.out, progress=not args.quiet)
    print(f"Model saved to {args.out}", file=sys.stderr)
    return 0


def _parse(args: argparse.Namespace) -> int:
    from diet_sparse.nlu import limit_blas_threads
    from diet_sparse.persistence import load

    limit_blas_threads()
    nlu = load(args.model)
    if args.text:
        results = nlu.parse_batch(args.text)
        for result in results:
            print(json.dumps(result, ensure_ascii=False, indent=None if args.compact else 2))
        return 0
    for line in sys.stdin:  # one message per line, one JSON result per line
        print(json.dumps(nlu.parse(line.rstrip("\n")), ensure_ascii=False), flush=True)
    return 0


def _test(args: argparse.Namespace) -> int:
    if args.cross_validation:
        summary = evaluation.cross_validate(args.data, args.config, args.folds, out=args.out)
        print(evaluation.format_cross_validation(summary), flush=True)
    else:
        if not args.model:
            raise ConfigError("diet-sparse test needs --model, or --cross-validation with --config")
        result = evaluation.test(args.model, args.data, out=args.out)
        print(evaluation.format_summary(result), flush=True)
        print("\nIf nlu_fallback replaced uncertain intents (fallback_report.json):")
        print(evaluation.format_fallback_report(result["fallback_report"]), flush=True)
    print(f"Reports and plots written to {args.out}", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    def show(row: dict[str, Any], n: int, total: int) -> None:
        print(sweeping.format_point(row, n, total), flush=True)

    rows = sweeping.sweep(
        args.config,
        train=args.train,
        test=args.test,
        densities=args.densities,
        sizes=args.sizes,
        repeats=args.repeats,
        out=args.out,
        epochs=args.epochs,
        subsample=args.subsample,
        dataset_name=args.dataset_name,
        progress=args.progress,
        on_point=show,
    )
    print(sweeping.format_smallest(rows))
    return 0


def _serve(args: argparse.Namespace) -> int:
    server.serve(
        args.model,
        host=args.host,
        port=args.port,
        auth_token=args.auth_token,
        max_body_bytes=args.max_body_bytes,
        max_text_length=args.max_text_length,
        batch_window_ms=args.batch_window_ms,
        workers=args.workers,
    )
    return 0


def _shell(args: argparse.Namespace) -> int:
    from diet_sparse.nlu import limit_blas_threads
    from diet_sparse.shell import run_shell

    limit_blas_threads()
    return run_shell(args.model)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data and config warnings as one plain line, without Python's source location."""
    print(f"warning: {message}", file=sys.stderr)


class _PlainLines(logging.Handler):
    """Log records as bare lines on the ``sys.stderr`` of the moment (which tests replace)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _progress_on_stderr() -> Iterator[None]:
    """Show INFO and above of the ``diet_sparse`` loggers on stderr while a command runs."""
    package = logging.getLogger("diet_sparse")
    handler, level = _PlainLines(), package.level
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def _checked(parse: Callable[[str], Any], check: Callable[[Any], Any]) -> Callable[[str], Any]:
    """An argparse ``type``: the text parsed, then checked by the library's own rule.

    A text ``parse`` rejects gets argparse's "invalid int value: 'x'"; a value ``check``
    rejects gets the library's message, which names the value and what is allowed.
    """

    def convert(text: str) -> Any:
        value = parse(text)
        try:
            check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    convert.__name__ = parse.__name__  # the type argparse names for a text it cannot parse
    return convert


def _sweep_argument(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return _checked(parse, functools.partial(sweeping.check_argument, name))


def _server_option(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return _checked(parse, functools.partial(server.check_option, name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diet-sparse",
        description="Intent and entity recognition with a randomly connected DIET model.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model from Rasa YAML training data")
    train.add_argument("--config", help="YAML config (default: built-in defaults)")
    train.add_argument(
        "--data", nargs="+", required=True, help="training data files or directories"
    )
    train.add_argument("--out", required=True, help="model directory to write")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    parse = commands.add_parser("parse", help="parse messages with a trained model")
    parse.add_argument("--model", required=True, help="model directory")
    parse.add_argument("text", nargs="*", help="messages; without any, one per line from stdin")
    parse.add_argument("--compact", action="store_true", help="one JSON object per line")
    parse.set_defaults(handler=_parse)

    test = commands.add_parser("test", help="evaluate a model on test data, write reports")
    test.add_argument("--model", help="model directory")
    test.add_argument("--data", nargs="+", required=True, help="test data files or directories")
    test.add_argument(
        "--out",
        default=evaluation.DEFAULT_OUT,
        help="directory for reports and plots (default: %(default)s)",
    )
    test.add_argument(
        "--cross-validation", action="store_true", help="train and test on K folds of --data"
    )
    test.add_argument(
        "--folds",
        type=_checked(int, evaluation.check_folds),
        default=evaluation.DEFAULT_FOLDS,
        help="number of folds, >= 2 (default: %(default)s)",
    )
    test.add_argument("--config", help="config for --cross-validation training")
    test.set_defaults(handler=_test)

    sweep = commands.add_parser(
        "sweep", help="F1 against trainable weights for several connection densities"
    )
    sweep.add_argument("--config", help="base YAML config")
    sweep.add_argument("--train", nargs="+", required=True, help="training data")
    sweep.add_argument("--test", nargs="+", required=True, help="test data")
    sweep.add_argument(
        "--densities",
        nargs="+",
        type=_sweep_argument("densities", float),
        default=list(sweeping.DEFAULT_DENSITIES),
        help="connection densities, each in [0, 1] (default: %(default)s)",
    )
    sweep.add_argument(
        "--sizes",
        nargs="+",
        type=_sweep_argument("sizes", int),
        default=list(sweeping.DEFAULT_SIZES),
        help="transformer sizes, each >= 1 (default: %(default)s)",
    )
    sweep.add_argument(
        "--repeats",
        type=_sweep_argument("repeats", int),
        default=sweeping.DEFAULT_REPEATS,
        help="seeds per point (default: %(default)s)",
    )
    sweep.add_argument(
        "--out",
        default=sweeping.DEFAULT_OUT,
        help="directory for sweep.csv and plots (default: %(default)s)",
    )
    sweep.add_argument(
        "--epochs", type=_sweep_argument("epochs", int), help="override the config's epochs"
    )
    sweep.add_argument(
        "--subsample",
        type=_sweep_argument("subsample", float),
        help="train on a stratified subsample: a fraction (<= 1) or a number of examples",
    )
    sweep.add_argument("--dataset-name", help="name in the plot titles (default: from --train)")
    sweep.add_argument("--progress", action="store_true", help="progress bar per training")
    sweep.set_defaults(handler=_sweep)

    serve = commands.add_parser("serve", help="HTTP server speaking Rasa's NLU protocol")
    serve.add_argument("--model", required=True, help="model directory")
    serve.add_argument(
        "--host", default=server.DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=_server_option("port", int),
        default=server.DEFAULT_PORT,
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    serve.add_argument(
        "--auth-token",
        type=_server_option("auth_token", str),
        help="token every request must carry",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=_server_option("max_body_bytes", int),
        default=server.DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies are refused (default: %(default)s)",
    )
    serve.add_argument(
        "--max-text-length",
        type=_server_option("max_text_length", int),
        default=server.DEFAULT_MAX_TEXT_LENGTH,
        help="longer texts are refused (default: %(default)s)",
    )
    serve.add_argument(
        "--batch-window-ms",
        type=_server_option("batch_window_ms", float),
        default=server.DEFAULT_BATCH_WINDOW_MS,
        help="requests arriving within this window are parsed as one batch (0 = no batching; "
        "default: %(default)s)",
    )
    serve.add_argument(
        "--workers",
        type=_server_option("workers", int),
        default=server.DEFAULT_WORKERS,
        help="server processes sharing the port, each with its own copy of the model "
        "(default: %(default)s; one per CPU core gives the most requests per second)",
    )
    serve.set_defaults(handler=_serve)

    shell = commands.add_parser("shell", help="type messages, see intents and entities")
    shell.add_argument("--model", required=True, help="model directory")
    shell.set_defaults(handler=_shell)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a bad argument exits 2 here, before slow imports

    from diet_sparse.persistence import ModelLoadError

    handler: Callable[[argparse.Namespace], int] = args.handler
    warnings.showwarning = _show_warning
    with _progress_on_stderr():
        try:
            return handler(args)
        except (
            ConfigError,
            TrainingDataError,
            ModelLoadError,
            server.ServerStartError,
            FileExistsError,
            PermissionError,
        ) as error:
            print(f"error: {error}", file=sys.stderr)
            return BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
