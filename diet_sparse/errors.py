"""Every error diet-sparse raises for a user's input, file, argument or environment, under one
base class, `DietSparseError`: a caller (the CLI, the HTTP server, a script) catches that one
class and shows the message, which is one line that names the file, line, key or argument and
what is expected. Each class also derives from the built-in error it refines (``ValueError``,
``RuntimeError``, ...), so code written against those keeps working.

Example:
    >>> from diet_sparse.errors import DietSparseError, DomainError
    >>> issubclass(DomainError, DietSparseError)
    True
"""


class DietSparseError(Exception):
    """The base of every error diet-sparse raises for something a user can fix."""


class DietSparseWarning(UserWarning):
    """The base of diet-sparse's warnings: usable input that is probably not what was meant."""


# --- configuration -----------------------------------------------------------------------------


class ConfigError(DietSparseError, ValueError):
    """A configuration that cannot be used; the message says which key and why."""


class RasaConfigError(ConfigError):
    """A Rasa config.yml that Rasa itself would not accept; the message names the entry."""


class RasaConfigWarning(DietSparseWarning):
    """A key or component of Rasa's config.yml that diet-sparse does not implement."""


# --- Rasa project files --------------------------------------------------------------------------


class TrainingDataError(DietSparseError, ValueError):
    """A Rasa project file (NLU data, domain, stories, rules) that cannot be used; the message
    names the file, the line, the item and the fix. Domain and story problems raise their own
    subclasses."""


class DomainError(TrainingDataError):
    """A domain (``domain.yml`` or its parts) that cannot be used."""


class StoriesError(TrainingDataError):
    """Stories, rules or test stories that cannot be used with their domain."""


class TrainingDataWarning(DietSparseWarning):
    """Training data that can be used but is probably not what the user meant."""


class EndpointsError(DietSparseError, ValueError):
    """An ``endpoints.yml`` or ``credentials.yml`` that cannot be used; the message names the
    file, the line and the key."""


# --- conversations -------------------------------------------------------------------------------


class DialogueError(DietSparseError, ValueError):
    """A conversation's events that name what the domain lacks, or cannot be featurized."""


class TrackerError(DialogueError):
    """A tracker (a conversation's events in Rasa's JSON) that cannot be read; the message names
    the event's index and what is wrong."""


class CorrectionError(DialogueError):
    """A correction of a conversation (the chat page's) naming a turn, an intent, an entity or
    an action that the conversation or the domain lacks; the message names the field."""


class InteractiveSaveError(DietSparseError, ValueError):
    """A conversation that cannot be saved as training data (interactive learning): nothing to
    save, or it names what the domain lacks; the message says which step and what to fix."""


# --- models --------------------------------------------------------------------------------------


class ModelLoadError(DietSparseError, RuntimeError):
    """A model directory that cannot be loaded; the message names the file and the fix."""


class OutputDirectoryError(DietSparseError, FileExistsError):
    """An output folder (a model, a report, a sweep) that is a file, sits below a file, or holds
    what a run must not overwrite; the message says which and what to do."""


class ProjectFolderError(OutputDirectoryError):
    """A folder where ``diet-sparse init`` cannot write a starter project (it is a file, or not
    empty and overwriting was not asked for)."""


class OutputPermissionError(DietSparseError, PermissionError):
    """An output folder, or the nearest existing folder above it, that cannot be written."""


class OutputWriteError(DietSparseError, OSError):
    """A file that cannot be written (a full disk, a read-only folder); the message names the
    path and the cause, and nothing half-written is left there."""


class ModelDirectoryError(OutputDirectoryError):
    """A model cannot be saved where asked; the message says why."""


class PretrainedError(DietSparseError, ValueError):
    """A pretrained encoder cannot be loaded: unknown name, or the extra is not installed."""


# --- serving -------------------------------------------------------------------------------------


class TrackerStoreError(DietSparseError, RuntimeError):
    """The tracker store's database cannot be reached or used; the message says which."""


class EventBrokerError(DietSparseError, RuntimeError):
    """The event broker's database cannot be reached or written; the message says which."""


class ActionServerError(DietSparseError, RuntimeError):
    """A custom action cannot be run on the action server."""


class ActionRejectedError(ActionServerError):
    """The action server rejected the action (HTTP 400, Rasa SDK's ``ActionExecutionRejection``):
    Rasa then rejects the action that ran it, as a form whose validation action is rejected."""


class ServerStartError(DietSparseError, RuntimeError):
    """The server cannot start (model, policy, address); the message is the one line to show."""
