"""The package's layout rules, read from the source of every module: one folder per part, only
`diet_sparse.training` imports TensorFlow, each part imports only the parts it may (the rules
each subpackage's docstring states), nothing imports the CLI, no module reaches into another
module's underscore names, and module-level imports form no circle."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "diet_sparse"
TENSORFLOW = {"tensorflow", "tensorflow_addons", "keras", "tf_keras"}

# The parts: a subpackage each, and the few modules at the top that join them.
SUBPACKAGES = {"rasa", "network", "nlu", "dialogue", "training", "evaluation", "serving"}
TOP_MODULES = {"", "errors", "config", "persistence", "project", "cli", "shell"}

# part -> the parts it must not import (at the top of a module or inside a function)
FORBIDDEN = {
    "errors": SUBPACKAGES | TOP_MODULES - {"", "errors"},
    "rasa": {"nlu", "network", "dialogue", "serving", "training", "evaluation", "persistence",
             "project", "cli", "shell"},
    "network": {"nlu", "dialogue", "serving", "training", "evaluation", "persistence", "project",
                "cli", "shell"},
    "nlu": {"dialogue", "serving", "training", "evaluation", "persistence", "project", "cli",
            "shell"},
    "dialogue": {"serving", "training", "evaluation", "persistence", "project", "cli", "shell"},
    "training": {"serving", "evaluation", "project", "cli", "shell"},
    "evaluation": {"serving", "project", "cli", "shell"},
    "serving": {"training", "evaluation", "project", "cli"},
}  # fmt: skip
EVERYONE_FORBIDDEN = {"cli"}  # the command line only prints and calls the library


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """``nlu.parser`` -> ``nlu``; ``cli`` -> ``cli``; the package's ``__init__`` -> ``""``."""
    return module.split(".")[0]


def imported_names(path: Path, top_level_only: bool = False) -> list[tuple[str, str | None]]:
    """(module, name) for every import of ``path`` (name None for ``import module``), at its top
    or, unless ``top_level_only``, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if node.module.startswith("diet_sparse") and submodule_exists(submodule):
                    found.append((submodule, None))  # from diet_sparse.nlu import parser
                else:
                    found.append((node.module, alias.name))
    return found


def submodule_exists(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def internal(module: str) -> str | None:
    """The name inside the package (``nlu.parser``), or None for a module outside it."""
    if module == "diet_sparse":
        return ""
    if module.startswith("diet_sparse."):
        return module.removeprefix("diet_sparse.")
    return None


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_every_module_belongs_to_a_part():
    for module in MODULES:
        part = part_of(module)
        assert part in SUBPACKAGES or module in TOP_MODULES, f"{module} is in no part"


def test_the_tests_mirror_the_parts():
    """tests/<part>/ holds the tests of diet_sparse/<part>/; the top-level modules' tests (and
    the command line's, end to end) stay in tests/; tests/browser/ drives the chat page
    (diet_sparse/serving/page/) in Chromium."""
    tests = PACKAGE.parent / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    parts = SUBPACKAGES | {"browser"}
    assert folders <= parts, f"test folders that are no part: {folders - parts}"
    names = [path.name for path in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), "two test files of one name would shadow each other"


def test_every_subpackage_says_what_it_holds_and_may_import():
    for part in SUBPACKAGES:
        docstring = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text()))
        assert docstring, f"diet_sparse/{part}/__init__.py has no docstring"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name))
def test_only_training_imports_tensorflow(module):
    imported = {name.split(".")[0] for name, _ in imported_names(MODULES[module])}
    if part_of(module) != "training":
        assert not imported & TENSORFLOW, f"diet_sparse.{module} imports TensorFlow"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_parts_import_only_what_they_may(module):
    forbidden = FORBIDDEN.get(part_of(module), set()) | EVERYONE_FORBIDDEN
    for name, _ in imported_names(MODULES[module]):
        target = internal(name)
        if target is None or target == "":
            continue  # outside the package, or its __init__ (the version)
        assert part_of(target) not in forbidden, f"{module} imports diet_sparse.{target}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_another_modules_private_names(module):
    for name, imported in imported_names(MODULES[module]):
        if internal(name) is not None and imported is not None:
            private = imported.startswith("_") and not imported.startswith("__")
            assert not private, f"diet_sparse.{module} imports {imported} from {name}"


def test_module_level_imports_form_no_circle():
    graph = {
        module: {
            internal(name)
            for name, _ in imported_names(path, top_level_only=True)
            if internal(name) not in (None, "")
        }
        for module, path in MODULES.items()
    }
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import circle: " + " -> ".join([*trail, module])
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            visit(target, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])


def test_the_checks_see_what_they_forbid(tmp_path):
    """The scan finds imports inside functions (where a lazy import would hide) and private
    names; the rules reject an NLU module that imports dialogue."""
    source = tmp_path / "example.py"
    source.write_text(
        "def f():\n    from diet_sparse.cli import main\n    import tensorflow as tf\n"
        "from diet_sparse.rasa.nlu_data import _Reader\n"
    )
    found = imported_names(source)
    assert ("diet_sparse.cli", "main") in found and ("tensorflow", None) in found
    assert ("diet_sparse.rasa.nlu_data", "_Reader") in found
    assert "dialogue" in FORBIDDEN["nlu"] and "cli" in EVERYONE_FORBIDDEN
    assert ("diet_sparse.dialogue.bot", None) in imported_names(
        _write(tmp_path / "b.py", "from diet_sparse.dialogue import bot\n")
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_dialogue_policy_trains_and_loads_without_scikit_learn():
    """scikit-learn (about 50 MB and a second at import) serves the NLU featurizer only."""
    code = (
        "import sys; from diet_sparse import load_policy; "
        "from diet_sparse.training import train_policy; print('sklearn' in sys.modules)"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "False", imported.stderr[-2000:]


def test_importing_the_package_is_light_and_its_functions_are_the_real_ones():
    import inspect

    code = (
        "import sys, diet_sparse; "
        "print(sorted(m for m in ('tensorflow', 'onnxruntime', 'sklearn') if m in sys.modules))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]"

    import diet_sparse
    from diet_sparse.persistence import load
    from diet_sparse.training.trainer import train

    assert diet_sparse.train is train and diet_sparse.load is load
    assert list(inspect.signature(diet_sparse.train).parameters) == [
        "data",
        "config",
        "out",
        "progress",
    ]
    assert set(dir(diet_sparse)) >= {"train", "load", "__version__"}


def test_the_readme_shows_every_part():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    tree = readme[
        readme.index("diet_sparse/\n") : readme.index("```", readme.index("diet_sparse/\n"))
    ]
    for part in SUBPACKAGES:
        assert f"{part}/" in tree, f"the README's layout does not show diet_sparse/{part}/"
    for module in TOP_MODULES - {""}:
        assert f"{module}.py" in tree, f"the README's layout does not show {module}.py"
