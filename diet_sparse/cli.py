"""Command line: ``diet-sparse init | train [core] | parse | predict | test [core] | sweep |
serve | shell | data validate [stories]``.

``train`` and ``test`` work on the NLU model (DIET); ``train core`` and ``test core`` on the
dialogue policy (TED), as Rasa's ``rasa train core`` / ``rasa test core`` do, and ``predict``
asks a policy for the next action of a conversation. Each command only parses its arguments and
calls the library function of the same name. The library prints nothing: the tables and
"written to" lines a user reads are printed here, and the library's progress (INFO records of
the ``diet_sparse`` loggers) is shown as plain lines on stderr. Every argument is checked by
argparse with the library's own rule and default (a bad one exits 2 with argparse's usage
line); errors a user can fix (data, domain, stories, tracker, config, model, output directory,
address) print one ``error:`` line and exit 2, before any training starts.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from diet_sparse.config import ConfigError
from diet_sparse.errors import DialogueError, DietSparseError, TrackerError
from diet_sparse.evaluation import options as evaluation_options
from diet_sparse.serving import options as server_options

if TYPE_CHECKING:
    from diet_sparse.rasa.endpoints import Endpoints

# The command line imports only light modules at its top (``--help`` and ``parse`` load neither
# the server, nor the evaluation, nor TensorFlow): each command imports what it runs.

ENDPOINTS_HELP = (
    "Rasa's endpoints.yml: its action_endpoint runs the custom actions, its SQL tracker_store "
    "keeps the conversations (default: endpoints.yml in the project folder)"
)
BAD_INPUT = 2  # the exit code of argparse's own errors, used for every error a user can fix
VALIDATION_FAILED = 1  # `data validate` found errors (or warnings, with --fail-on-warnings)


def _confirm(question: str, default: bool, interactive: bool) -> bool:
    """A yes/no question on stderr, answered on stdin (an empty answer, or end of input, is
    ``default``); ``default`` itself when not ``interactive``."""
    if not interactive:
        return default
    choices = "[Y/n]" if default else "[y/N]"
    print(f"{question} {choices} ", end="", file=sys.stderr, flush=True)
    try:
        answer = input().strip().lower()
    except EOFError:
        return default
    return default if not answer else answer in ("y", "yes")


def _init(args: argparse.Namespace) -> int:
    """``rasa init``'s steps: write the starter project, train it (asked; done with
    --no-prompt), talk to it in the shell (asked; not with --no-prompt)."""
    from diet_sparse.project import create_starter_project, train_project

    folder = Path(args.init_dir or args.path or ".")
    interactive = not args.no_prompt and sys.stdin.isatty()
    overwrite = args.overwrite
    if not overwrite and folder.is_dir() and any(folder.iterdir()) and interactive:
        question = f"Folder '{folder.resolve()}' is not empty. Write the starter project there?"
        if not _confirm(question, default=False, interactive=True):
            print("Ok. Run 'diet-sparse init' again to create the project.", file=sys.stderr)
            return 0
        overwrite = True
    create_starter_project(folder, overwrite=overwrite)
    print(f"Created project directory at '{folder.resolve()}'.", file=sys.stderr)
    train = not args.no_train and _confirm(
        "Do you want to train an initial model?", default=True, interactive=interactive
    )
    if not train:
        print(
            "You can train a model later: go to the project folder and run 'diet-sparse train'.",
            file=sys.stderr,
        )
        return 0
    print("Training an initial model...", file=sys.stderr, flush=True)
    trained = train_project(folder, progress=not args.quiet)
    print(f"Model saved to {trained.path}", file=sys.stderr)
    if _confirm(
        "Do you want to speak to the trained assistant on the command line?",
        default=False,
        interactive=interactive,
    ):
        from diet_sparse.shell import run_shell

        return run_shell(trained.path, None)
    print(
        "If you want to speak to the assistant, run 'diet-sparse shell' at any time inside the "
        "project folder.",
        file=sys.stderr,
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    project = _project_folder(args)
    if project is not None:
        return _train_project(args, project)
    from diet_sparse.project import check_nlu_training

    training = check_nlu_training(args.config, args.data, args.out)  # before TensorFlow loads
    training.run(progress=not args.quiet)
    print(f"Model saved to {args.out}", file=sys.stderr)
    return 0


def _project_folder(args: argparse.Namespace) -> Path | None:
    """The Rasa project folder ``train`` works on: ``--project``, or the current folder when
    neither ``--data`` nor ``--config`` is given and it holds a config.yml and a data/ folder."""
    from diet_sparse.project import is_project

    if getattr(args, "project", None):
        return Path(args.project)
    if args.data is None and args.config is None and is_project(Path.cwd()):
        return Path.cwd()
    return None


def _train_project(args: argparse.Namespace, project: Path) -> int:
    """A whole Rasa project: an NLU model and, when there are stories, a dialogue policy, in
    ``models/<time>/{nlu,core}`` (or ``--out``)."""
    from diet_sparse.project import train_project

    trained = train_project(project, out=args.out, progress=not args.quiet)
    print(f"NLU model saved to {trained.nlu}", file=sys.stderr)
    if trained.core is not None:
        print(f"Policy saved to {trained.core}", file=sys.stderr)
    print(f"Model saved to {trained.path}", file=sys.stderr)
    return 0


def _train_core(args: argparse.Namespace) -> int:
    from diet_sparse.project import check_policy_training

    # As for the NLU model: everything that can be checked is, before TensorFlow loads.
    training = check_policy_training(args.config, args.domain, args.data, args.out)
    training.run(progress=not args.quiet, augmentation_factor=args.augmentation)
    print(f"Policy saved to {args.out}", file=sys.stderr)
    return 0


def _parse(args: argparse.Namespace) -> int:
    from diet_sparse.nlu.parser import limit_blas_threads
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


def _read_tracker(path: str) -> dict | list:
    """The JSON of a Rasa tracker file (``-``: stdin): ``{"events": [...]}`` or a list of
    events."""
    name = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrackerError(f"tracker file {path} does not exist") from None
    except IsADirectoryError:
        raise TrackerError(f"tracker file {path} is a directory; give a JSON file") from None
    except UnicodeDecodeError:
        raise TrackerError(f"tracker file {path} is not a text file (not UTF-8)") from None
    try:
        tracker = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrackerError(
            f"{name}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(tracker, dict | list):
        raise TrackerError(
            f"{name}: a tracker is a JSON object with an 'events' list, or a list of events; "
            f"got {type(tracker).__name__}"
        )
    return tracker


def _predict(args: argparse.Namespace) -> int:
    from diet_sparse.persistence import load_policy
    from diet_sparse.rasa.stories import events_from_tracker_json

    tracker = _read_tracker(args.tracker)
    policy = load_policy(args.model)
    name = "stdin" if args.tracker == "-" else args.tracker
    try:
        result = policy.predict(
            events_from_tracker_json(tracker, policy.domain.initial_slot_values)
        )
    except DialogueError as error:  # TrackerError too
        raise type(error)(f"{name}: {error}") from None
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _test_project_folder(args: argparse.Namespace) -> Path | None:
    """The Rasa project ``test`` tests as ``rasa test`` does: ``--project``, or the current
    folder when it is one and neither ``--data`` nor ``--cross-validation`` is given."""
    from diet_sparse.project import is_project

    if args.project:
        return Path(args.project)
    if args.data is None and not args.cross_validation and is_project(Path.cwd()):
        return Path.cwd()
    return None


def _test_project(args: argparse.Namespace, project: Path) -> int:
    from diet_sparse.evaluation import dialogue as core_evaluation
    from diet_sparse.evaluation import nlu as evaluation
    from diet_sparse.project import test_project

    tested = test_project(project, model=args.model, out=args.out)
    print(f"Model tested: {tested.model}", file=sys.stderr)
    if tested.core is not None:
        stories = ", ".join(str(path.relative_to(project)) for path in tested.test_stories)
        print(f"Test stories ({stories}), end to end:", flush=True)
        print(core_evaluation.format_core_summary(tested.core), flush=True)
        print()
    print(f"NLU model on the training data ({project / 'data'}):", flush=True)
    print(evaluation.format_summary(tested.nlu), flush=True)
    print(f"Reports and plots written to {tested.out}", file=sys.stderr)
    return 0


def _test(args: argparse.Namespace) -> int:
    from diet_sparse.evaluation import nlu as evaluation

    project = _test_project_folder(args)
    if project is not None:
        return _test_project(args, project)
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


def _test_core(args: argparse.Namespace) -> int:
    from diet_sparse.evaluation import dialogue as core_evaluation

    result = core_evaluation.test_core(
        args.model, args.stories, out=args.out, successes=args.successes
    )
    print(core_evaluation.format_core_summary(result), flush=True)
    print(f"Reports and plots written to {args.out}", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from diet_sparse.evaluation import sweep as sweeping

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


def _sweep_core(args: argparse.Namespace) -> int:
    from diet_sparse.evaluation import sweep as sweeping

    def show(row: dict[str, Any], n: int, total: int) -> None:
        print(sweeping.format_point(row, n, total, sweeping.POLICY), flush=True)

    rows = sweeping.sweep_core(
        args.config,
        domain=args.domain,
        train=args.train,
        test=args.test,
        densities=args.densities,
        sizes=args.sizes,
        repeats=args.repeats,
        out=args.out,
        epochs=args.epochs,
        dataset_name=args.dataset_name,
        progress=args.progress,
        on_point=show,
    )
    print(sweeping.format_smallest(rows, sweeping.POLICY))
    return 0


def _model_in_project(model: str | None) -> tuple[Path, Path | None]:
    """The model ``serve`` and ``shell`` use: ``model`` (``--model``), or in a Rasa project
    folder the newest model trained there; and the project folder, if it is one."""
    from diet_sparse.persistence import ModelLoadError, latest_project_model
    from diet_sparse.project import is_project

    project = Path.cwd() if is_project(Path.cwd()) else None
    if model is not None:
        return Path(model), project
    if project is None:
        raise ModelLoadError(
            "no --model given, and the current folder is not a Rasa project (config.yml and "
            "data/): pass --model DIR"
        )
    latest = latest_project_model(project)
    if latest is None:
        raise ModelLoadError(
            f"no --model given, and no model trained in {project / 'models'}: run "
            "'diet-sparse train' here first, or pass --model DIR"
        )
    print(f"Using the newest model of the project: {latest}", file=sys.stderr, flush=True)
    return latest, project


def _read_endpoints(
    endpoints: str | None, project: Path | None, tracker_store: bool = True
) -> tuple[Path | None, Endpoints]:
    """``--endpoints``, or the project's endpoints.yml if it has one, and what it names (its
    tracker store only if ``tracker_store``)."""
    from diet_sparse.project import PROJECT_ENDPOINTS
    from diet_sparse.rasa.endpoints import Endpoints, read_endpoints

    path = None
    if endpoints is not None:
        if not Path(endpoints).is_file():
            raise ConfigError(f"--endpoints {endpoints}: no such file")
        path = Path(endpoints)
    elif project is not None and (project / PROJECT_ENDPOINTS).is_file():
        path = project / PROJECT_ENDPOINTS
    if path is None:
        return None, Endpoints()
    return path, read_endpoints(path, tracker_store=tracker_store)


def _tracker_store(path: Path | None, endpoints: Endpoints, project: Path | None) -> str | None:
    """The endpoints file's SQL ``tracker_store``; else, in a project, a SQLite file in the
    project folder (beside, not inside, the models a retrain replaces); else None (the
    server's default)."""
    from diet_sparse.serving.app import DEFAULT_TRACKER_FILE
    from diet_sparse.serving.tracker_store import database_url

    if endpoints.tracker_store is not None:
        print(f"Tracker store from {path}", file=sys.stderr)
        return database_url(endpoints.tracker_store)
    return f"sqlite:///{project / DEFAULT_TRACKER_FILE}" if project is not None else None


def _action_endpoint(endpoints: Endpoints) -> str | None:
    """The endpoints file's ``action_endpoint`` url, said once; None without one."""
    url = endpoints.action_endpoint
    if url is not None:
        print(f"Custom actions run on the action server at {url}", file=sys.stderr)
    return url


def _event_broker(path: Path | None, endpoints: Endpoints) -> str | None:
    """The endpoints file's SQL ``event_broker`` database URL, said once, with a line for each
    of its ``notes`` (a lock store, a broker diet-sparse does not offer); None without one."""
    from diet_sparse.serving.tracker_store import database_url

    for note in endpoints.notes:
        print(note, file=sys.stderr)
    if endpoints.event_broker is None:
        return None
    print(f"Event broker from {path}", file=sys.stderr)
    return database_url(endpoints.event_broker)


def _check_channels(credentials: str | None, project: Path | None) -> None:
    """Read ``--credentials`` (or the project's credentials.yml, if it has one) and say once
    which of the channels it lists are not offered: the bot answers at the REST channel."""
    from diet_sparse.project import PROJECT_CREDENTIALS
    from diet_sparse.rasa.endpoints import read_credentials

    if credentials is None and project is not None and (project / PROJECT_CREDENTIALS).is_file():
        credentials = str(project / PROJECT_CREDENTIALS)
    if credentials is None:
        return
    warning = read_credentials(credentials).warning(credentials)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)


def _serve(args: argparse.Namespace) -> int:
    from diet_sparse.persistence import PROJECT_CORE
    from diet_sparse.serving import app as server

    model, project = _model_in_project(args.model)
    policy = args.policy
    if policy is None and (model / PROJECT_CORE / "metadata.json").is_file():
        policy = model / PROJECT_CORE  # a project's model with its policy: serve the bot
    if args.interactive and (project is None or policy is None):
        raise ConfigError(
            "--interactive saves conversations into a Rasa project's data/interactive/: run it "
            "in the project folder (config.yml and data/), with a model trained with its policy"
        )
    # policy_dir only when there is one, so that serving an NLU model needs nothing more
    with_policy = {"policy_dir": policy} if policy is not None else {}
    if policy is not None:
        _check_channels(args.credentials, project)
        given = args.tracker_store is not None  # the endpoints file's is not used then
        path, endpoints = _read_endpoints(args.endpoints, project, tracker_store=not given)
        store = args.tracker_store or _tracker_store(path, endpoints, project)
        with_policy["tracker_store"] = store
        with_policy["action_endpoint"] = _action_endpoint(endpoints)
        with_policy["event_broker"] = _event_broker(path, endpoints)
        with_policy["project"] = project
        with_policy["interactive"] = args.interactive
    server.serve(
        model,
        host=args.host,
        port=args.port,
        auth_token=args.auth_token,
        max_body_bytes=args.max_body_bytes,
        max_text_length=args.max_text_length,
        batch_window_ms=args.batch_window_ms,
        workers=args.workers,
        **with_policy,
    )
    return 0


def _shell(args: argparse.Namespace) -> int:
    from diet_sparse.nlu.parser import limit_blas_threads
    from diet_sparse.shell import run_shell

    limit_blas_threads()
    model, project = _model_in_project(args.nlu or args.model)
    _, endpoints = _read_endpoints(args.endpoints, project, tracker_store=False)
    return run_shell(model, _action_endpoint(endpoints), policy_dir=args.policy, say=args.say)


def _data_validate(args: argparse.Namespace) -> int:
    """One line per finding on stdout; exit 1 when Rasa's ``rasa data validate`` would."""
    from diet_sparse.project import PROJECT_CONFIG, PROJECT_DATA, PROJECT_DOMAIN, project_domain
    from diet_sparse.rasa.validation import validate_project

    config = args.config
    if config is None and Path(PROJECT_CONFIG).is_file():
        config = PROJECT_CONFIG  # as Rasa: config.yml when there is one
    validation = validate_project(
        args.domain or project_domain(".") or PROJECT_DOMAIN,
        args.data or [PROJECT_DATA],
        config,
        max_history=args.max_history,
        stories_only=args.stories_only,
    )
    for finding in validation.findings:
        print(f"{finding.severity}: {finding}")
    if validation.failed(args.fail_on_warnings):
        print("Project validation completed with errors.", file=sys.stderr)
        return VALIDATION_FAILED
    return 0


def _positive(value: int) -> None:
    if value < 1:
        raise ValueError(f"must be a positive integer, got {value}")


def _add_validate_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options of ``data validate`` and ``data validate stories`` (``suppress``: not to
    override those given before 'stories')."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--max-history",
        type=_checked(int, _positive),
        default=default(None),
        help="turns a story structure conflict looks back (default: all of them)",
    )
    parser.add_argument(
        "--fail-on-warnings",
        action="store_true",
        default=default(False),
        help="exit 1 on warnings too, not only on errors",
    )
    parser.add_argument(
        "-d",
        "--domain",
        default=default(None),
        help="domain file or folder (default: the project's domain.yml, else its domain/)",
    )
    parser.add_argument(
        "--data",
        nargs="+",
        default=default(None),
        help="data files or folders (default: the project's data/)",
    )
    parser.add_argument(
        "-c",
        "--config",
        default=default(None),
        help="config file (default: the project's config.yml, when there is one)",
    )


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


def _add_sweep_options(parser: argparse.ArgumentParser, sizes: Sequence[int]) -> None:
    """The options both sweeps share, with the library's defaults."""
    parser.add_argument(
        "--densities",
        nargs="+",
        type=_sweep_argument("densities", float),
        default=list(evaluation_options.DEFAULT_DENSITIES),
        help="connection densities, each in [0, 1] (default: %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_sweep_argument("sizes", int),
        default=list(sizes),
        help="transformer sizes, each >= 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=_sweep_argument("repeats", int),
        default=evaluation_options.DEFAULT_REPEATS,
        help="seeds per point (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default=evaluation_options.DEFAULT_SWEEP_OUT,
        help="directory for sweep.csv and plots (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=_sweep_argument("epochs", int), help="override the config's epochs"
    )


def _sweep_argument(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return _checked(parse, functools.partial(evaluation_options.check_argument, name))


def _server_option(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return _checked(parse, functools.partial(server_options.check_option, name))


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are one ``error:`` line, as every other error a user can
    fix (argparse's own prints the usage first); ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}; see '{self.prog} --help'", file=sys.stderr)
        sys.exit(BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="diet-sparse",
        description="Intent and entity recognition with a randomly connected DIET model.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser(
        "init",
        help="create a starter Rasa project (as 'rasa init'), train it and try it",
        description="Write a small example assistant (a café helper) into PATH as 'rasa init' "
        "does: config.yml, domain.yml, data/{nlu,stories,rules}.yml, tests/test_stories.yml, "
        "endpoints.yml, credentials.yml, actions/. Then ask whether to train it and to talk to "
        "it in the shell (without a terminal, or with --no-prompt: it trains, no shell). A "
        "folder that is not empty is refused unless you say so (asked, or --overwrite).",
    )
    init.add_argument("path", nargs="?", help="project folder (default: the current folder)")
    init.add_argument("--init-dir", help="the project folder, as Rasa's option names it")
    init.add_argument(
        "--no-prompt",
        action="store_true",
        help="ask nothing: train the initial model (unless --no-train), do not start the shell",
    )
    init.add_argument("--no-train", action="store_true", help="do not train the initial model")
    init.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that is not empty: the starter's files replace those of the "
        "same names, other files stay",
    )
    init.add_argument("--quiet", action="store_true", help="no progress bar while training")
    init.set_defaults(handler=_init)

    train = commands.add_parser(
        "train",
        help="train a model from Rasa YAML training data ('train core': a dialogue policy)",
        description="Train the NLU model (DIET: intents and entities) from Rasa YAML NLU data. "
        "'diet-sparse train core' trains the dialogue policy (TED) from a domain and stories "
        "instead; see 'diet-sparse train core --help'.",
    )
    train.add_argument("--config", help="YAML config (default: built-in defaults)")
    train.add_argument("--data", nargs="+", help="training data files or directories (required)")
    train.add_argument("--out", help="model directory to write (required)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--project",
        help="a Rasa project folder (config.yml, domain.yml or domain/, data/): train the NLU "
        "model and the policy into its models/ (default: the current folder, when it is one "
        "and neither --data nor --config is given)",
    )
    train.set_defaults(handler=_train, required=(train, ("--data", "--out"), _project_folder))
    train_parts = train.add_subparsers(title="dialogue policy", metavar="[core]")
    train_core = train_parts.add_parser(
        "core",
        help="train a dialogue policy (TED) from a domain and stories",
        description="Train a dialogue policy (TED, with randomly connected layers) on the "
        "stories of a Rasa project (rules are read but, as in Rasa, not trained on). A data "
        "folder may mix NLU data, stories and rules: only stories and rules are read.",
    )
    train_core.add_argument(
        "--domain",
        required=True,
        help="domain.yml, or a domain/ folder (its files merge); the responses of the --data "
        "files join it, as in Rasa",
    )
    train_core.add_argument(
        "--data",
        "--stories",
        nargs="+",
        required=True,
        help="story files or directories (Rasa's data folder)",
    )
    train_core.add_argument(
        "--config",
        default=argparse.SUPPRESS,  # not to override a --config given before 'core'
        help="YAML config of the policy, e.g. configs/ted.yml (default: built-in defaults)",
    )
    train_core.add_argument("--out", required=True, help="policy directory to write")
    train_core.add_argument(
        "--augmentation",
        type=int,
        default=None,
        metavar="N",
        help="glue N stories to each story for TED, as 'rasa train --augmentation' (default: "
        "the config's augmentation_factor, 50 as in Rasa; 0: none)",
    )
    train_core.add_argument(
        "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar"
    )
    train_core.set_defaults(handler=_train_core, required=None)

    parse = commands.add_parser("parse", help="parse messages with a trained model")
    parse.add_argument("--model", required=True, help="model directory")
    parse.add_argument("text", nargs="*", help="messages; without any, one per line from stdin")
    parse.add_argument("--compact", action="store_true", help="one JSON object per line")
    parse.set_defaults(handler=_parse)

    test = commands.add_parser(
        "test",
        help="evaluate a model on test data, write reports ('test core': a dialogue policy)",
        description="Evaluate the NLU model on annotated test data, or cross-validate. "
        "'diet-sparse test core' evaluates a dialogue policy on test stories instead; see "
        "'diet-sparse test core --help'. In a Rasa project folder without --data (or with "
        "--project), it tests the project's newest model (or --model) as 'rasa test' does: "
        "the test stories (tests/test_*.yml) end to end, their user messages parsed and their "
        "actions predicted, then the NLU model on data/ (the training data, Rasa's default); "
        "the reports go to --out, as Rasa's.",
    )
    test.add_argument("--model", help="model directory (default in a project: its newest model)")
    test.add_argument(
        "--data", nargs="+", help="test data files or directories (required outside a project)"
    )
    test.add_argument(
        "--out",
        default=evaluation_options.DEFAULT_OUT,
        help="directory for reports and plots (default: %(default)s)",
    )
    test.add_argument(
        "--cross-validation", action="store_true", help="train and test on K folds of --data"
    )
    test.add_argument(
        "--folds",
        type=_checked(int, evaluation_options.check_folds),
        default=evaluation_options.DEFAULT_FOLDS,
        help="number of folds, >= 2 (default: %(default)s)",
    )
    test.add_argument("--config", help="config for --cross-validation training")
    test.add_argument(
        "--project",
        help="a Rasa project folder to test as 'rasa test' does (default: the current folder, "
        "when it is one and neither --data nor --cross-validation is given)",
    )
    test.set_defaults(handler=_test, required=(test, ("--data",), _test_project_folder))
    test_parts = test.add_subparsers(title="dialogue policy", metavar="[core]")
    test_core = test_parts.add_parser(
        "core",
        help="evaluate a dialogue policy on test stories, write reports",
        description="Replay test stories as 'rasa test core' does: every action (action_listen "
        "included) is predicted from the story's own history before it. Writes "
        f"{', '.join(evaluation_options.CORE_REPORT_FILES[:2])} and "
        f"{evaluation_options.CONFUSION_MATRIX_FILE}.",
    )
    test_core.add_argument("--model", required=True, help="policy directory (train core)")
    test_core.add_argument(
        "--stories", nargs="+", required=True, help="test story files or directories"
    )
    test_core.add_argument(
        "--out",
        default=argparse.SUPPRESS,  # the NLU test's default, not to override one given before
        help=f"directory for reports and plots (default: {evaluation_options.DEFAULT_OUT})",
    )
    test_core.add_argument(
        "--successes",
        action="store_true",
        help="also write the stories predicted right "
        f"({evaluation_options.SUCCESSFUL_STORIES_FILE})",
    )
    test_core.set_defaults(handler=_test_core, required=None)

    predict = commands.add_parser(
        "predict", help="the next action of a conversation, from a dialogue policy"
    )
    predict.add_argument("--model", required=True, help="policy directory (train core)")
    predict.add_argument(
        "--tracker",
        required=True,
        help='Rasa tracker JSON file: {"events": [...]} or a list of events; - reads stdin',
    )
    predict.set_defaults(handler=_predict)

    sweep = commands.add_parser(
        "sweep", help="F1 against trainable weights for several connection densities"
    )
    sweep.add_argument("--config", help="base YAML config")
    sweep.add_argument("--train", nargs="+", help="training data (required)")
    sweep.add_argument("--test", nargs="+", help="test data (required)")
    _add_sweep_options(sweep, sizes=evaluation_options.DEFAULT_SIZES)
    sweep.add_argument(
        "--subsample",
        type=_sweep_argument("subsample", float),
        help="train on a stratified subsample: a fraction (<= 1) or a number of examples",
    )
    sweep.add_argument("--dataset-name", help="name in the plot titles (default: from --train)")
    sweep.add_argument("--progress", action="store_true", help="progress bar per training")
    sweep.set_defaults(handler=_sweep, required=(sweep, ("--train", "--test")))
    sweep_parts = sweep.add_subparsers(title="dialogue policy", metavar="[core]")
    sweep_core = sweep_parts.add_parser(
        "core",
        help="action F1 against trainable weights of TED policies, per connection density",
        description="Train one TED policy per (density, transformer size, seed) on --train "
        "stories, score it on --test stories as 'test core' does, and plot action F1 and "
        "conversation accuracy against the connected weights; resumable.",
    )
    sweep_core.add_argument("--config", help="base TED config (default: configs' defaults)")
    sweep_core.add_argument("--domain", nargs="+", required=True, help="domain.yml files")
    sweep_core.add_argument("--train", nargs="+", required=True, help="training stories")
    sweep_core.add_argument("--test", nargs="+", required=True, help="test stories")
    _add_sweep_options(sweep_core, sizes=evaluation_options.DEFAULT_POLICY_SIZES)
    sweep_core.add_argument(
        "--dataset-name", help="name in the plot titles (default: from --train)"
    )
    sweep_core.add_argument("--progress", action="store_true", help="progress bar per training")
    sweep_core.set_defaults(handler=_sweep_core, required=None)

    serve = commands.add_parser("serve", help="HTTP server speaking Rasa's NLU protocol")
    serve.add_argument(
        "--model", help="model directory (default in a Rasa project: its newest model)"
    )
    serve.add_argument(
        "--policy",
        help="dialogue policy directory (train core): also answer /model/predict and be the bot "
        "at Rasa's REST channel (default: the model's own policy, for a project's model)",
    )
    serve.add_argument(
        "--tracker-store",
        help="database URL where the bot keeps its conversations, shared by servers that use "
        "the same one, e.g. postgresql://user:password@host/db (default: sqlite:///tracker.db "
        "in the project folder, or in the current folder)",
    )
    serve.add_argument("--endpoints", help=ENDPOINTS_HELP)
    serve.add_argument(
        "--interactive",
        action="store_true",
        help="interactive learning: the chat page at / saves corrected conversations as Rasa "
        "stories and NLU examples into data/interactive/ (run in a project folder)",
    )
    serve.add_argument(
        "--credentials",
        help="Rasa's credentials.yml: the channels to offer; diet-sparse offers the REST "
        "channel and names the others it lists (default: credentials.yml in the project folder)",
    )
    serve.add_argument(
        "--host", default=server_options.DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=_server_option("port", int),
        default=server_options.DEFAULT_PORT,
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
        default=server_options.DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies are refused (default: %(default)s)",
    )
    serve.add_argument(
        "--max-text-length",
        type=_server_option("max_text_length", int),
        default=server_options.DEFAULT_MAX_TEXT_LENGTH,
        help="longer texts are refused (default: %(default)s)",
    )
    serve.add_argument(
        "--batch-window-ms",
        type=_server_option("batch_window_ms", float),
        default=server_options.DEFAULT_BATCH_WINDOW_MS,
        help="requests arriving within this window are parsed as one batch (0 = no batching; "
        "default: %(default)s)",
    )
    serve.add_argument(
        "--workers",
        type=_server_option("workers", int),
        default=server_options.DEFAULT_WORKERS,
        help="server processes sharing the port, each with its own copy of the model "
        "(default: %(default)s; one per CPU core gives the most requests per second)",
    )
    serve.set_defaults(handler=_serve)

    shell = commands.add_parser(
        "shell",
        help="type messages, see intents and entities (or the bot's answers)",
        description="Type messages and see their intents and entities; with a policy (a "
        "project's model that holds one, or --policy), the bot answers. --say sends scripted "
        "messages instead and prints each turn: the parse, the slots set, each action.",
    )
    models = shell.add_mutually_exclusive_group()
    models.add_argument(
        "--model", help="model directory (default in a Rasa project: its newest model)"
    )
    models.add_argument("--nlu", help="NLU model directory (diet-sparse train), with --policy")
    shell.add_argument(
        "--policy",
        help="dialogue policy directory (train core): the bot answers (default: the model's own "
        "policy, for a project's model)",
    )
    shell.add_argument(
        "--say",
        action="append",
        metavar="TEXT",
        default=[],
        help="send TEXT (repeatable, in order), print each message and the bot's turn, and exit",
    )
    shell.add_argument("--endpoints", help=ENDPOINTS_HELP)
    shell.set_defaults(handler=_shell)

    data = commands.add_parser("data", help="check a Rasa project's domain and data")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    validate = data_commands.add_parser(
        "validate",
        help="check the domain, NLU data, stories and rules as 'rasa data validate' does",
        description="Check a Rasa project as 'rasa data validate' (Rasa 3.6) does, without "
        "training: one line per finding ('error:', 'warning:' or 'notice:'); exits 1 on an "
        "error, or on a warning with --fail-on-warnings (notices never fail). 'data validate "
        "stories' checks only the story structure.",
    )
    _add_validate_options(validate, suppress=False)
    validate.set_defaults(handler=_data_validate, required=None, stories_only=False)
    validate_parts = validate.add_subparsers(title="story structure only", metavar="[stories]")
    validate_stories = validate_parts.add_parser(
        "stories",
        help="check only for story structure conflicts",
        description="Check only that stories taking different actions never reach the same "
        "state (within --max-history turns), as 'rasa data validate stories' does.",
    )
    _add_validate_options(validate_stories, suppress=True)
    validate_stories.set_defaults(stories_only=True)
    return parser


def _check_required(args: argparse.Namespace) -> None:
    """Options that ``train`` and ``test`` need for the NLU model but not with ``core``, which
    argparse cannot require (a sub-command's options are parsed apart): refused as argparse
    refuses a missing option."""
    required = getattr(args, "required", None)
    if required is None:
        return
    parser, options, *waived_by = required
    if waived_by and waived_by[0](args) is not None:
        return
    missing = [option for option in options if getattr(args, option.lstrip("-")) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a bad argument exits 2 here, before slow imports
    _check_required(args)

    handler: Callable[[argparse.Namespace], int] = args.handler
    warnings.showwarning = _show_warning
    with _progress_on_stderr():
        try:
            return handler(args)
        except DietSparseError as error:
            print(f"error: {error}", file=sys.stderr)
            return BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
