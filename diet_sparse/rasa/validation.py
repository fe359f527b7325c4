"""Checking a Rasa project's domain and training data, as ``rasa data validate`` (Rasa 3.6)
does: `validate_project` loads the domain, NLU data, stories and rules with the package's
readers and returns what it finds, each a `Finding` (kind, severity, where, message).

The checks and their messages follow Rasa 3.6's ``rasa/validator.py`` (``Validator``) and the
exit logic of ``rasa/cli/utils.py`` (``validate_files``), checked against ``rasa data validate``
of Rasa 3.6.21 on the projects of ``tests/rasa/test_validation.py`` and Rasa's ``rasa init``
project (the same findings, and the same story conflicts for each ``max_history``). The
severities say what a
finding does to the exit status, as in Rasa:

- ``error``: validation fails (an action or form that stories use but the domain lacks, a slot
  mapping conditioned on a form that does not exist or that does not require the slot, an
  empty domain, a file that cannot be read).
- ``warning``: validation fails with ``fail_on_warnings`` (an intent the NLU data or the stories
  use but the domain lacks, an example under several intents, an ``utter_`` action that no
  response defines, a story structure conflict).
- ``notice``: printed, never fails, even with ``fail_on_warnings``: what Rasa warns about without
  changing its result (a domain intent without NLU examples or not used in any story or rule, a
  response not used in any story or rule, a missing mandatory config key), and what the
  readers warn about while loading (entity markup, a response naming an undeclared slot...).

Differences from Rasa: a form requiring an undeclared slot, or an intent with the MappingPolicy's
``triggers``, is an ``error`` of kind ``unreadable`` (the domain reader refuses it), where Rasa's
``verify_form_slots`` and ``verify_domain_validity`` word it otherwise; a conflict names each
of its stories once, in the order of the files (Rasa names two and counts the other trackers,
in its training data generator's order), on one line; the readers' own warnings are theirs, not
Rasa's (Rasa's "Found intent ... in stories which is not part of the domain" is not repeated).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diet_sparse.errors import DietSparseError, TrainingDataError
from diet_sparse.rasa.domain import (
    ACTION_LISTEN,
    DEFAULT_INTENTS,
    ENTITY_LABEL_SEPARATOR,
    REQUESTED_SLOT,
    RETRIEVAL_SEPARATOR,
    Domain,
    load_domain,
)
from diet_sparse.rasa.nlu_data import NO_NLU_DATA, TrainingData, load_training_data
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    SlotSet,
    Story,
    UserUttered,
    load_stories,
    with_entity_slots,
)
from diet_sparse.rasa.yaml_reading import compose, mapping_fields, yaml_value

ERROR, WARNING, NOTICE = "error", "warning", "notice"
SEVERITIES = (ERROR, WARNING, NOTICE)

# Rasa 3.6's CONFIG_MANDATORY_KEYS.
CONFIG_MANDATORY_KEYS = ("assistant_id", "language")
# What the readers raise when none of the files holds NLU data or stories: no data, not an error.
_NO_STORIES = "no 'stories' or 'rules' key"


@dataclass(frozen=True)
class Finding:
    """One problem `validate_project` found.

    ``kind`` names the check (e.g. ``"action-not-in-domain"``), ``severity`` is one of
    `SEVERITIES`, ``source`` the ``"file:line"`` (or the file) where it is, when known.
    """

    kind: str
    severity: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


@dataclass(frozen=True)
class Validation:
    """What `validate_project` found, in the order the checks ran."""

    findings: tuple[Finding, ...] = ()

    def failed(self, fail_on_warnings: bool = False) -> bool:
        """Whether validation fails, as Rasa's exit status 1: an error, or, with
        ``fail_on_warnings``, a warning (notices never fail).

        Example:
            >>> Validation((Finding("story-conflict", WARNING, "..."),)).failed()
            False
            >>> Validation((Finding("story-conflict", WARNING, "..."),)).failed(True)
            True
        """
        failing = {ERROR, WARNING} if fail_on_warnings else {ERROR}
        return any(finding.severity in failing for finding in self.findings)

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [finding for finding in self.findings if finding.kind == kind]


@dataclass
class _Project:
    """The loaded parts of a project; a part that could not be read stays None."""

    domain: Domain | None = None
    nlu: TrainingData = field(default_factory=TrainingData)
    stories: list[Story] = field(default_factory=list)
    config: dict[str, Any] | None = None


def validate_project(
    domain: str | Path | Sequence[str | Path],
    data: str | Path | Sequence[str | Path],
    config: str | Path | None = None,
    max_history: int | None = None,
    stories_only: bool = False,
) -> Validation:
    """Check a Rasa project as ``rasa data validate`` does, without training anything.

    The domain, NLU data and stories are read with `load_domain`, `load_training_data` and
    `load_stories` (a data folder may mix them); what these refuse is an ``unreadable`` error
    and what they warn about a ``notice``. Then, as Rasa's ``Validator``: the domain is not
    empty; actions (``action_...``) and forms (``active_loop``) that stories and rules use are
    in the domain; slot mappings' ``active_loop`` conditions name forms that require the slot;
    intents of the domain, the NLU data and the stories agree; no example is under two intents;
    ``utter_`` actions have responses and responses are used; stories (not rules) that reach
    the same state take the same action (`find_story_conflicts`); the config has Rasa's
    mandatory keys.

    Args:
        domain: the domain file or folder (or several).
        data: the data files or folders.
        config: the config file; None: not checked.
        max_history: turns a story conflict looks back (None: all, as Rasa); must be >= 1.
        stories_only: only the story conflicts (and the config), as ``rasa data validate
            stories``.

    Returns:
        A `Validation`; ``.failed(fail_on_warnings)`` says whether Rasa would exit with 1.

    Raises:
        ValueError: ``max_history`` is below 1.

    Example:
        >>> validation = validate_project("domain.yml", "data")  # doctest: +SKIP
        >>> [str(f) for f in validation.findings]  # doctest: +SKIP
        ["data/stories.yml:3: The action 'action_missing' is used in the 'greet' block, ..."]
    """
    if max_history is not None and max_history < 1:
        raise ValueError(f"max_history must be a positive integer, got {max_history}")
    findings: list[Finding] = []
    project = _load(domain, data, config, findings)
    if any(finding.kind == "unreadable" for finding in findings):
        return Validation(tuple(findings))  # as Rasa, which stops at a file it cannot read
    if not stories_only:
        if _is_empty(project.domain):
            findings.append(
                Finding("empty-domain", ERROR, "Encountered empty domain during validation.")
            )
            return Validation(tuple(findings))
        findings += _check_domain(project)
        findings += _check_nlu(project)
    for conflict in find_story_conflicts(project.stories, project.domain, max_history):
        findings.append(Finding("story-conflict", WARNING, str(conflict), conflict.source))
    if project.config is not None:
        findings += _check_config(project.config, str(config))
    return Validation(tuple(findings))


# --- Loading --------------------------------------------------------------------------------------


def _load(domain: Any, data: Any, config: str | Path | None, findings: list[Finding]) -> _Project:
    project = _Project()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        project.domain = _read(lambda: load_domain(domain, data=data), findings)
        project.nlu = _read(lambda: load_training_data(data), findings, NO_NLU_DATA) or (
            TrainingData()
        )
        project.stories = _read(lambda: load_stories(data), findings, _NO_STORIES) or []
        if config is not None:
            project.config = _read(lambda: _config_keys(Path(config)), findings)
    duplicates = _texts_of_several_intents(project.nlu)
    for warning in caught:
        message = str(warning.message)
        # The NLU reader's warning about an example under several intents is Rasa's check
        # `example-in-several-intents` below; it is reported there, once.
        if any(message.startswith(f"example {text!r} is under ") for text in duplicates):
            continue
        findings.append(Finding("reader", NOTICE, message))
    return project


def _read(load: Any, findings: list[Finding], nothing_there: str | None = None) -> Any:
    """What ``load`` returns; None, with an ``unreadable`` error, when it raises (and without
    one when it says there is nothing of its kind, which is no error)."""
    try:
        return load()
    except DietSparseError as error:
        if nothing_there is not None and str(error).startswith(nothing_there):
            return None
        findings.append(Finding("unreadable", ERROR, str(error)))
        return None


def _config_keys(path: Path) -> dict[str, Any]:
    """The top-level keys of a config file and their values."""
    if not path.is_file():
        raise TrainingDataError(f"config file {path} does not exist")
    root = compose(path)
    if root is None:
        return {}
    return {key: yaml_value(node) for key, node in mapping_fields(root, path, "config").items()}


def _is_empty(domain: Domain) -> bool:
    """Rasa's ``Domain.is_empty``: nothing declared beyond Rasa's defaults."""
    declared_intents = [intent for intent in domain.intents if intent not in DEFAULT_INTENTS]
    declared_slots = [slot for slot in domain.slots if slot != REQUESTED_SLOT]
    parts = (domain.entities, declared_slots, domain.responses, domain.actions, domain.forms)
    return not declared_intents and not any(parts) and not domain.action_texts


# --- Rasa's checks --------------------------------------------------------------------------------


def _check_domain(project: _Project) -> list[Finding]:
    """Rasa's ``verify_actions_in_stories_rules``, ``verify_forms_in_stories_rules`` and
    ``verify_slot_mappings``: errors."""
    domain, findings = project.domain, []
    seen_actions: set[str] = set()
    seen_loops: set[str] = set()
    for story in project.stories:
        block = story.name
        for event in (*story.condition, *story.events):
            name = getattr(event, "name", None)
            if isinstance(event, ActionExecuted) and name and name.startswith("action_"):
                if name not in seen_actions and name not in domain.action_names:
                    findings.append(
                        Finding(
                            "action-not-in-domain",
                            ERROR,
                            f"The action '{name}' is used in the '{block}' block, but it is not "
                            "listed in the domain file. You should add it to your domain file!",
                            event.source or story.source,
                        )
                    )
                seen_actions.add(name)
            elif isinstance(event, ActiveLoop) and name and name not in seen_loops:
                if name not in domain.action_names:
                    findings.append(
                        Finding(
                            "form-not-in-domain",
                            ERROR,
                            f"The form '{name}' is used in the '{block}' block, but it is not "
                            "listed in the domain file. You should add it to your domain file!",
                            event.source or story.source,
                        )
                    )
                seen_loops.add(name)
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            for condition in mapping.get("conditions") or ():
                form = condition.get("active_loop") if isinstance(condition, dict) else None
                if form and form not in domain.forms:
                    findings.append(
                        Finding(
                            "slot-mapping-form-unknown",
                            ERROR,
                            f"Slot '{slot.name}' has a mapping condition for form '{form}' which "
                            "is not listed in domain forms. Please add this form to the forms "
                            "section or check for typos.",
                        )
                    )
                required = domain.forms.get(form, ()) if form else ()
                if (
                    required
                    and slot.name not in required
                    and mapping.get("type") != "from_trigger_intent"
                ):
                    findings.append(
                        Finding(
                            "slot-mapping-not-required",
                            ERROR,
                            f"Slot '{slot.name}' has a mapping condition for form '{form}', but "
                            f"it's not present in '{form}' form's 'required_slots'. The slot "
                            "needs to be added to this key.",
                        )
                    )
    return findings


def _check_nlu(project: _Project) -> list[Finding]:
    """Rasa's ``verify_nlu``: ``verify_intents_in_stories`` (with ``verify_intents``),
    ``verify_example_repetition_in_intents``, ``verify_utterances_in_stories``."""
    domain, nlu, findings = project.domain, project.nlu, []
    declared = [intent for intent in domain.intents if intent not in DEFAULT_INTENTS]
    first_example: dict[str, str] = {}
    for example in nlu.examples:
        if example.intent is not None:
            first_example.setdefault(_base_intent(example.intent), example.source)
    for intent in declared:
        if intent not in first_example:
            findings.append(
                Finding(
                    "intent-not-in-nlu",
                    NOTICE,
                    f"The intent '{intent}' is listed in the domain file, but is not found in "
                    "the NLU training data.",
                )
            )
    for intent, source in first_example.items():
        if intent not in domain.intents:
            findings.append(
                Finding(
                    "intent-not-in-domain",
                    WARNING,
                    f"There is a message in the training data labeled with intent '{intent}'. "
                    "This intent is not listed in your domain. You should need to add that "
                    "intent to your domain file!",
                    source,
                )
            )

    story_intents: dict[str, str] = {}  # intent -> where a story first uses it
    story_utterances: dict[str, str] = {}
    for story in project.stories:
        for event in story.events:
            if isinstance(event, UserUttered) and event.intent is not None:
                story_intents.setdefault(event.intent, event.source or story.source)
            elif isinstance(event, ActionExecuted) and (event.name or "").startswith("utter_"):
                story_utterances.setdefault(event.name, event.source or story.source)
    for intent, source in story_intents.items():
        if intent not in domain.intents:
            findings.append(
                Finding(
                    "story-intent-not-in-domain",
                    WARNING,
                    f"The intent '{intent}' is used in your stories, but it is not listed in "
                    "the domain file. You should add it to your domain file!",
                    source,
                )
            )
    for intent in declared:
        if intent not in story_intents:
            findings.append(
                Finding(
                    "intent-not-in-stories",
                    NOTICE,
                    f"The intent '{intent}' is not used in any story or rule.",
                )
            )

    for text, intents in _texts_of_several_intents(nlu).items():
        findings.append(
            Finding(
                "example-in-several-intents",
                WARNING,
                f"The example '{text}' was found labeled with multiple different intents in "
                "the training data. Each annotated message should only appear with one intent. "
                "You should fix that conflict The example is labeled with: "
                f"{', '.join(sorted(intents))}.",
                next(iter(intents.values())),
            )
        )

    # Rasa's `_gather_utterance_actions`: every response, a retrieval response as its action.
    utterances = dict.fromkeys(name.split(RETRIEVAL_SEPARATOR)[0] for name in domain.responses)
    for name, source in story_utterances.items():
        if name not in utterances:
            findings.append(
                Finding(
                    "utterance-not-in-domain",
                    WARNING,
                    f"The action '{name}' is used in the stories, but is not a valid utterance "
                    "action. Please make sure the action is listed in your domain and there is a "
                    "template defined with its name.",
                    source,
                )
            )
    for name in utterances:
        if name not in story_utterances:
            findings.append(
                Finding(
                    "utterance-unused",
                    NOTICE,
                    f"The utterance '{name}' is not used in any story or rule.",
                )
            )
    return findings


def _base_intent(intent: str) -> str:
    """A retrieval intent's name without its sub-intent (``faq`` of ``faq/ask_x``), as Rasa's
    NLU reader labels its examples."""
    return intent.split(RETRIEVAL_SEPARATOR)[0]


def _texts_of_several_intents(nlu: TrainingData) -> dict[str, dict[str, str]]:
    """Each example text under more than one intent: intent -> where it is first."""
    intents_of_text: dict[str, dict[str, str]] = defaultdict(dict)
    for example in nlu.examples:
        if example.intent is not None:
            intents_of_text[example.text].setdefault(_base_intent(example.intent), example.source)
    return {text: intents for text, intents in intents_of_text.items() if len(intents) > 1}


def _check_config(config: dict[str, Any], source: str) -> list[Finding]:
    """Rasa's ``warn_if_config_mandatory_keys_are_not_set``: notices."""
    # Rasa's second warning, an assistant_id left as `rasa init` wrote it, is one its command
    # line filters out (EXPECTED_WARNINGS of rasa/utils/common.py): not reported either.
    return [
        Finding(
            "config-key-missing",
            NOTICE,
            f"The config file is missing the '{key}' mandatory key.",
            source,
        )
        for key in CONFIG_MANDATORY_KEYS
        if key not in config
    ]


# --- Story structure conflicts --------------------------------------------------------------------


@dataclass
class StoryConflict:
    """Stories that take different actions from the same dialogue state (Rasa's
    ``rasa/core/training/story_conflict.py``): ``after`` is the event before it
    (``intent 'greet'``, ``action 'utter_ask'``), ``actions`` maps each action to the stories
    that take it there."""

    after: str
    actions: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    def __str__(self) -> str:
        taken = "; ".join(
            f"{action} predicted in {', '.join(repr(name) for name in dict.fromkeys(stories))}"
            for action, stories in self.actions.items()
        )
        return f"Story structure conflict after {self.after}: {taken}"


def find_story_conflicts(
    stories: Sequence[Story], domain: Domain, max_history: int | None = None
) -> list[StoryConflict]:
    """States after which stories (not rules) take different actions, as Rasa's
    ``find_story_conflicts`` finds them.

    A state is what Rasa's ``Domain.get_active_state`` holds before each action: the last user
    message (intent, or text, and the entity labels its intent uses), the previous action, the
    featurized value of every slot that influences the conversation, the active loop. Two
    actions conflict when the last ``max_history`` states before them (all of them: None) are
    the same; a conflict at the start of stories, before any event, is no conflict.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file
        >>> from diet_sparse.rasa.stories import example_stories_file
        >>> domain = load_domain(example_domain_file())
        >>> find_story_conflicts(load_stories(example_stories_file()), domain)
        []
    """
    taken: dict[tuple, StoryConflict] = {}
    actions_after: dict[tuple, dict[str, None]] = defaultdict(dict)
    for story in stories:
        if story.is_rule:
            continue
        states = []
        for state, action in _states_and_actions(story, domain):
            states.append(state)
            key = tuple(states[-max_history:] if max_history else states)
            actions_after[key][action] = None
            if key not in taken:
                taken[key] = StoryConflict(_previous_event(state), source=story.source)
            taken[key].actions.setdefault(action, []).append(story.name)
    return [
        conflict
        for key, conflict in taken.items()
        if len(actions_after[key]) > 1 and conflict.after
    ]


def _states_and_actions(story: Story, domain: Domain) -> list[tuple[tuple, str]]:
    """Each action of a story with Rasa's state before it (see `find_story_conflicts`)."""
    slots = {name: slot for name, slot in domain.slots.items() if slot.feature_size}
    values: dict[str, Any] = {name: slot.initial_value for name, slot in slots.items()}
    user: tuple | None = None
    previous: str | None = None
    loop: str | None = None
    found = []
    for event in with_entity_slots(story.events, domain):
        if isinstance(event, ActionExecuted):
            action = event.name if event.name is not None else f"bot: {event.text}"
            features = tuple((name, tuple(slots[name].features(v))) for name, v in values.items())
            found.append(((user, previous, features, loop), action))
            previous = action
        elif isinstance(event, UserUttered):
            labels = set()
            for entity in event.entities:
                labels.add(entity.type)
                labels.update(
                    f"{entity.type}{ENTITY_LABEL_SEPARATOR}{extra}"
                    for extra in (entity.role, entity.group)
                    if extra
                )
            used = labels & set(domain.entities_used_by(event.intent or ""))
            user = (event.intent, event.text if event.intent is None else None, tuple(sorted(used)))
        elif isinstance(event, SlotSet) and event.name in values:
            values[event.name] = event.value
        elif isinstance(event, ActiveLoop):
            loop = event.name
    return found


def _previous_event(state: tuple) -> str:
    """Rasa's ``_get_previous_event``: the action (not ``action_listen``) or intent before a
    state, as ``action 'x'`` / ``intent 'x'``; "" at the start of a story."""
    user, previous, _, _ = state
    if previous is not None and previous != ACTION_LISTEN:
        if previous.startswith("bot: "):
            return f"bot utterance '{previous.removeprefix('bot: ')}'"
        return f"action '{previous}'"
    if user is not None and user[0] is not None:
        return f"intent '{user[0]}'"
    if user is not None and user[1] is not None:
        return f"user utterance '{user[1]}'"
    return ""
