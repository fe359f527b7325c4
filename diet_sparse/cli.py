"""Command line: ``diet-sparse train | parse | test | sweep | serve | shell``.

Each command only parses its arguments and calls the library function of the same name.
Errors a user can fix (bad data, bad config, missing model) print one line and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence

from diet_sparse.config import ConfigError
from diet_sparse.data import TrainingDataError


def _train(args: argparse.Namespace) -> int:
    from diet_sparse.training import train

    train(args.data, args.config, out=args.out, progress=not args.quiet)
    print(f"Model saved to {args.out}", file=sys.stderr)
    return 0


def _parse(args: argparse.Namespace) -> int:
    from diet_sparse.persistence import load

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
    from diet_sparse.evaluation import cross_validate, test

    if args.cross_validation:
        cross_validate(args.data, args.config, folds=args.folds, out=args.out)
    else:
        if not args.model:
            raise ConfigError("diet-sparse test needs --model, or --cross-validation with --config")
        test(args.model, args.data, out=args.out)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from diet_sparse.sweep import sweep

    sweep(
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
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from diet_sparse.server import serve

    return serve(
        args.model,
        host=args.host,
        port=args.port,
        auth_token=args.auth_token,
        max_body_bytes=args.max_body_bytes,
        max_text_length=args.max_text_length,
        batch_window_ms=args.batch_window_ms,
        workers=args.workers,
    )


def _shell(args: argparse.Namespace) -> int:
    from diet_sparse.shell import run_shell

    return run_shell(args.model)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data and config warnings as one plain line, without Python's source location."""
    print(f"warning: {message}", file=sys.stderr)


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
    test.add_argument("--out", default="results", help="directory for reports and plots")
    test.add_argument(
        "--cross-validation", action="store_true", help="train and test on K folds of --data"
    )
    test.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    test.add_argument("--config", help="config for --cross-validation training")
    test.set_defaults(handler=_test)

    sweep = commands.add_parser(
        "sweep", help="F1 against trainable weights for several connection densities"
    )
    sweep.add_argument("--config", help="base YAML config")
    sweep.add_argument("--train", nargs="+", required=True, help="training data")
    sweep.add_argument("--test", nargs="+", required=True, help="test data")
    sweep.add_argument("--densities", nargs="+", type=float, default=[1.0, 0.2, 0.05, 0.01])
    sweep.add_argument("--sizes", nargs="+", type=int, default=[8, 16, 32, 64, 128, 256])
    sweep.add_argument("--repeats", type=int, default=1, help="seeds per point")
    sweep.add_argument("--out", default="sweep", help="directory for sweep.csv and plots")
    sweep.add_argument("--epochs", type=int, help="override the config's epochs")
    sweep.add_argument(
        "--subsample",
        type=float,
        help="train on a stratified subsample: a fraction (<= 1) or a number of examples",
    )
    sweep.add_argument("--dataset-name", help="name in the plot titles (default: from --train)")
    sweep.add_argument("--progress", action="store_true", help="progress bar per training")
    sweep.set_defaults(handler=_sweep)

    serve = commands.add_parser("serve", help="HTTP server speaking Rasa's NLU protocol")
    serve.add_argument("--model", required=True, help="model directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5005)
    serve.add_argument("--auth-token", help="token every request must carry")
    serve.add_argument("--max-body-bytes", type=int, default=64 * 1024)
    serve.add_argument("--max-text-length", type=int, default=2000)
    serve.add_argument(
        "--batch-window-ms",
        type=float,
        default=2.0,
        help="requests arriving within this window are parsed as one batch (0 = no batching)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port, each with its own copy of the model "
        "(default 1; one per CPU core gives the most requests per second)",
    )
    serve.set_defaults(handler=_serve)

    shell = commands.add_parser("shell", help="type messages, see intents and entities")
    shell.add_argument("--model", required=True, help="model directory")
    shell.set_defaults(handler=_shell)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from diet_sparse.persistence import ModelLoadError

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    warnings.showwarning = _show_warning
    try:
        return handler(args)
    except (ConfigError, TrainingDataError, ModelLoadError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
