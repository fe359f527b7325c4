"""Command line: ``diet-sparse train`` and ``diet-sparse parse``.

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
