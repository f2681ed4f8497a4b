"""The import rules between the layers, checked on the source text.

``spec  <-  proofs``; ``spec <- impl/core <- impl/sim``; ``impl/core <- impl/runtime <- impl/cli``;
``impl/storage <- impl/runtime``; ``spec, proofs, impl/core, impl/sim, impl/storage <- labs``,
and only the lab command imports ``labs``; ``errors`` below them all. The spec and the core
are pure: no IO, clock, randomness or trio. And no module imports itself through others: every
import counts for the cycle check, those inside functions and under ``TYPE_CHECKING`` too, since
hiding an import there keeps the modules just as tangled for a reader.
"""

from __future__ import annotations

import ast
import collections
import importlib
import importlib.util
import pkgutil
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Folder -> (package name, dynamokv packages it may import, other modules it must not import).
IMPURE = {
    "trio",
    "socket",
    "time",
    "random",
    "os",
    "threading",
    "asyncio",
    "datetime",
    "select",
    "subprocess",
    "signal",
    "selectors",
    "multiprocessing",
    "httptools",
}
ERRORS = "dynamokv.errors"
"""The error root, below every layer: each may import it, and it imports nothing of ours."""

RULES: dict[str, tuple[set[str], set[str]]] = {
    "errors": ({ERRORS}, IMPURE),
    "spec": ({ERRORS, "dynamokv.spec"}, IMPURE),
    "proofs": (
        {ERRORS, "dynamokv.spec", "dynamokv.proofs"},
        {"trio", "socket", "threading", "asyncio"},
    ),
    "impl/core": ({ERRORS, "dynamokv.spec", "dynamokv.impl.core"}, IMPURE),
    "impl/persist": (
        {
            ERRORS,
            "dynamokv.spec",
            "dynamokv.impl.core",
            "dynamokv.impl.storage",
            "dynamokv.impl.persist",
        },
        {"trio", "socket", "threading", "asyncio", "time", "random", "select", "selectors", "os"},
    ),
    "impl/sim": (
        {
            ERRORS,
            "dynamokv.spec",
            "dynamokv.impl.core",
            "dynamokv.impl.sim",
            "dynamokv.impl.storage",
            "dynamokv.impl.persist",
        },
        {"trio", "socket", "threading", "asyncio", "time", "select", "selectors"},
    ),
    "impl/storage": ({ERRORS, "dynamokv.impl.storage"}, {"trio", "socket", "asyncio"}),
    "impl/client": ({ERRORS, "dynamokv.spec", "dynamokv.impl.client"}, set()),
    "impl/chaos": (
        {
            ERRORS,
            "dynamokv.spec",
            "dynamokv.impl.core",
            "dynamokv.impl.sim",
            "dynamokv.impl.client",
            "dynamokv.impl.runtime",
            "dynamokv.impl.persist",
            "dynamokv.impl.storage",
            "dynamokv.impl.chaos",
        },
        set(),
    ),
    "impl/runtime": (
        {
            ERRORS,
            "dynamokv.spec",
            "dynamokv.impl.core",
            "dynamokv.impl.storage",
            "dynamokv.impl.persist",
            "dynamokv.impl.runtime",
        },
        set(),
    ),
    # The workbench grades learner code against the spec and the core, inside the
    # simulator and over the storage layer; it never reaches the runtime or the CLI.
    "labs": (
        {
            ERRORS,
            "dynamokv.spec",
            "dynamokv.proofs",
            "dynamokv.impl.core",
            "dynamokv.impl.sim",
            "dynamokv.impl.storage",
            "dynamokv.labs",
        },
        {"trio", "socket", "asyncio"},
    ),
}

# Only the command line's lab module may import the workbench.
LAB_IMPORTERS = {"impl/cli/_lab.py"}


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["dynamokv", *parts])


def _imports(path: Path, module: str) -> Iterator[tuple[str, int, bool]]:
    """Yield (absolute module name, line, type_checking_only) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    guarded.add(id(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in guarded
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name, node.lineno, id(node) in guarded
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            # A dynamic import is still an import: the rules apply to it too.
            yield node.args[0].value, node.lineno, False


def _python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _import_graph(files: list[Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, wherever the import statement stands.

    ``from package import name`` points at the module ``package.name`` when there is one,
    else at the package (its ``__init__``).
    """
    modules = {_module_name(path): path for path in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                for alias in node.names:
                    child = f"{target}.{alias.name}"
                    targets.add(child if child in modules else target)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        # Dynamic imports (importlib.import_module) are found by _imports: keep those.
        from_lines = {
            n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)
        }
        targets.update(t for t, line, _ in _imports(path, name) if line not in from_lines)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_counting_every_import() -> None:
    files = [
        path
        for folder in ("errors", "spec", "proofs", "impl", "labs")
        for path in _python_files(folder)
    ]
    cycles = _cycles(_import_graph(files))
    assert cycles == [], "import cycles (function-level and TYPE_CHECKING imports count):\n" + (
        "\n".join(" <-> ".join(cycle) for cycle in cycles)
    )


def test_cycle_check_sees_a_cycle_hidden_in_a_function_and_type_checking(tmp_path: Path) -> None:
    """Negative control: a cycle through a function-level and a TYPE_CHECKING import."""
    package = tmp_path / "impl" / "planted"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "_a.py").write_text("def f():\n    from ._b import g\n")
    (package / "_b.py").write_text("if TYPE_CHECKING:\n    from . import _c\n")
    (package / "_c.py").write_text("import dynamokv.impl.planted._a\n")
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        graph = _import_graph(sorted(package.glob("*.py")))
    finally:
        ROOT = saved
    assert _cycles(graph) == [
        ["dynamokv.impl.planted._a", "dynamokv.impl.planted._b", "dynamokv.impl.planted._c"]
    ]


@pytest.mark.parametrize("folder", sorted(RULES))
def test_layer_imports_only_what_it_may(folder: str) -> None:
    allowed, forbidden = RULES[folder]
    violations = []
    for path in _python_files(folder):
        for name, line, type_checking_only in _imports(path, _module_name(path)):
            top = name.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if top == "dynamokv":
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    violations.append(where)
            elif top in forbidden and not type_checking_only:
                violations.append(where)
    assert violations == [], "layering violations:\n" + "\n".join(violations)


def test_nothing_but_the_lab_command_imports_the_workbench() -> None:
    importers = []
    for folder in ("spec", "proofs", "impl"):
        for path in _python_files(folder):
            where = str(path.relative_to(ROOT))
            for name, line, _ in _imports(path, _module_name(path)):
                if name.startswith("dynamokv.labs") and where not in LAB_IMPORTERS:
                    importers.append(f"{where}:{line} imports {name}")
    assert importers == []


def test_checker_catches_a_planted_violation(tmp_path: Path) -> None:
    """The import walker must see a forbidden import, or the test above could never fail."""
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import time\nfrom ..impl import core\nif TYPE_CHECKING:\n    import random\n"
        "importlib.import_module('dynamokv.impl.client')\n"
    )
    found = set(_imports(planted, "dynamokv.spec.planted"))
    assert found == {
        ("time", 1, False),
        ("dynamokv.impl", 2, False),
        ("random", 4, True),
        ("dynamokv.impl.client", 5, False),
    }


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        _module_name(init)
        for folder in ("errors", "spec", "proofs", "impl", "labs")
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


_MUTABLE = (dict, list, set, bytearray, collections.deque)


def _global_state(module: types.ModuleType) -> list[str]:
    """Module-level mutable containers, memo caches and ``global`` rebinding in ``module``."""
    found = [
        f"{module.__name__}.{name}"
        for name, value in vars(module).items()
        if not name.startswith("__")
        and (isinstance(value, _MUTABLE) or hasattr(value, "cache_info"))
    ]
    source = getattr(module, "__file__", None)
    if source is not None:
        for node in ast.walk(ast.parse(Path(source).read_text())):
            if isinstance(node, ast.Global):
                found.append(f"{module.__name__}: global {', '.join(node.names)}")
    return found


def test_the_core_keeps_no_global_mutable_state() -> None:
    """Same events, same effects: nothing a node does may depend on what another node (or
    an earlier run) left in a module. Caches live in objects the driver owns and injects
    (a ``RingCache``), tables are read-only mappings."""
    import dynamokv.impl.core as core

    modules = [
        importlib.import_module(f"dynamokv.impl.core.{info.name}")
        for info in pkgutil.iter_modules(core.__path__)
    ]
    assert len(modules) >= 15
    found = [item for module in modules for item in _global_state(module)]
    assert found == [], "global mutable state in the core:\n" + "\n".join(found)


def test_the_global_state_check_sees_a_cache_a_table_and_a_global(tmp_path: Path) -> None:
    """Negative control: each kind of global state is reported."""
    source = tmp_path / "planted_state.py"
    source.write_text(
        "import functools\nSEEN = {}\n\n@functools.lru_cache\ndef f(x):\n    return x\n\n"
        "def g():\n    global SEEN\n    SEEN = {}\n"
    )
    spec = importlib.util.spec_from_file_location("planted_state", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(_global_state(module)) == [
        "planted_state.SEEN",
        "planted_state.f",
        "planted_state: global SEEN",
    ]
