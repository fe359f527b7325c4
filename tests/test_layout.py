"""The package's layout rules: only `diet_sparse.training` imports TensorFlow, and modules import
only from the layers below them (no import circles), read from the source of every module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "diet_sparse"
TENSORFLOW = {"tensorflow", "tensorflow_addons", "keras", "tf_keras"}

# Lowest first: a module may import only modules listed before it. The README lists the
# modules in this order (a test below checks it).
LAYERS = [
    "rasa_config",
    "config",
    "tokenizer",
    "data",
    "domain",
    "stories",
    "pretrained",
    "featurizer",
    "tagging",
    "connectivity",
    "network",
    "wide_path",
    "dialogue_features",
    "rules",
    "onnx_graph",
    "crf_decoding",
    "nlu",
    "policy",
    "persistence",
    "training.crf",
    "training.similarity",
    "training.transformer",
    "training.model",
    "training.policy_model",
    "training.batching",
    "training.trainer",
    "training.policy_trainer",
    "training",
    "plots",
    "evaluation",
    "core_evaluation",
    "sweep",
    "tracker_store",
    "credentials",
    "forms",
    "bot",
    "conversations",
    "action_server",
    "server",
    "shell",
    "cli",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "diet_sparse":  # from diet_sparse import network
                found |= {f"diet_sparse.{alias.name}" for alias in node.names}
    return found


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_every_module_has_a_place_in_the_layers():
    assert set(MODULES) - {""} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name))
def test_only_training_imports_tensorflow(module):
    imported = {name.split(".")[0] for name in imports(MODULES[module])}
    if module.split(".")[0] != "training":
        assert not imported & TENSORFLOW, f"diet_sparse.{module} imports TensorFlow"


@pytest.mark.parametrize("module", LAYERS)
def test_imports_only_go_down_the_layers(module):
    rank = LAYERS.index(module)
    for name in imports(MODULES[module]):
        target = name.removeprefix("diet_sparse").removeprefix(".")
        if not name.startswith("diet_sparse") or target in ("", "__version__"):
            continue  # outside the package, or its __init__ (the version)
        assert target in LAYERS, f"{module} imports {name}, which is not a module"
        assert LAYERS.index(target) < rank, f"{module} imports {target}, a layer above it"


def test_the_checks_see_an_upward_import(tmp_path):
    """The scan finds imports inside functions too, where a lazy upward import would hide."""
    source = tmp_path / "example.py"
    source.write_text(
        "def f():\n    from diet_sparse.cli import main\n    import tensorflow as tf\n"
    )
    assert {"diet_sparse.cli", "tensorflow"} <= imports(source)


def test_the_dialogue_policy_trains_and_loads_without_scikit_learn():
    """scikit-learn (about 50 MB and a second at import) serves the NLU featurizer only."""
    import subprocess
    import sys

    code = (
        "import sys; from diet_sparse import load_policy; "
        "from diet_sparse.training import train_policy; print('sklearn' in sys.modules)"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "False", imported.stderr[-2000:]


def test_importing_the_package_is_light_and_its_functions_are_the_real_ones():
    import inspect
    import subprocess
    import sys

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


def test_the_readme_lists_the_modules_in_the_layers_order():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    tree = readme[
        readme.index("diet_sparse/\n") : readme.index("```", readme.index("diet_sparse/\n"))
    ]
    listed = []
    for line in tree.splitlines()[1:]:
        name = line.split()[0]
        if name.endswith(".py"):
            prefix = "training." if line.startswith("    ") else ""
            listed.append(prefix + name.removesuffix(".py"))
        elif name == "training/":
            listed.append("training")
    expected = [name for name in LAYERS if name != "training"]
    assert [name for name in listed if name != "training"] == expected
