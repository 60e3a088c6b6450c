"""The import rules of docs/architecture.md, checked on every run of the unit tests (issue 16).

(a) `lint-imports` with the contracts of pyproject.toml ([tool.importlinter]): the layers
    protocol -> crypto -> plumbing -> hub | national -> application, features independent;
(b) no `from a import _name` where a is another module (a private name is its module's own);
(c) no import cycle among somex modules, counting imports under `if TYPE_CHECKING:` and inside
    functions (a cycle hidden from the interpreter is still a cycle of the design);
(d) protocol imports nothing outside the standard library but rfc8785, crypto nothing but
    cryptography and rfc8785 (import-linter forbids a list; this allows one);
(e) every module of nodes/ is used by the product: reached from the `somex` entry point or a
    feature folder (a helper only the tests import belongs under tests/support/);
(f) no code below the application names the root key's files.
Each check is shown to fail on a tiny broken package built in tmp_path.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).parents[2]
SHIPPED = ("protocol", "crypto", "nodes", "broker_config")

# --- the import graph, from the source (no import executed) ----------------------------------

def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import statement anywhere in the file, relative
    imports resolved; `import a.b` gives ("a.b", [])."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            yield node.lineno, base, [alias.name for alias in node.names]


def _known(name: str, known: dict[str, Path]) -> str | None:
    """The most specific module of ours that `name` means (a.b.c may be a name in a.b)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for _line, imported, names in _imports(module, path):
            targets = [f"{imported}.{n}" for n in names] or [imported]
            for target in targets:
                found = _known(target, known)
                if found and found != module:
                    graph[module].add(found)
    return graph


def private_imports(root: Path, packages: Iterable[str]) -> list[str]:
    """`from a import _name` where a is another module: the private name belongs to a."""
    known = modules(root, packages)
    found = []
    for module, path in known.items():
        for line, imported, names in _imports(module, path):
            if imported in ("__future__", module):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                found.append(f"{path.relative_to(root)}:{line}: from {imported} import {', '.join(private)}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    edges = sorted(f"{a} -> {b}" for a in component for b in graph[a] & component)
    return "; ".join(edges)


def outside_imports(root: Path, package: str, allowed: set[str]) -> list[str]:
    """Imports of `package` that are neither the standard library, `allowed`, nor the package itself."""
    known = modules(root, [package])
    allowed = allowed | set(sys.stdlib_module_names) | {package, "__future__"}
    found = []
    for module, path in known.items():
        for line, imported, _names in _imports(module, path):
            top = imported.split(".")[0]
            if top not in allowed:
                found.append(f"{path.relative_to(root)}:{line}: imports {imported}")
    return found


def lint_imports(cwd: Path, env_path: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the configuration it finds in `cwd` (pyproject.toml)."""
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache"],
        cwd=cwd, env={"PYTHONPATH": str(env_path), "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        capture_output=True, text=True, timeout=300)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


# --- (a) the import-linter contracts -----------------------------------------------------------

def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT, ROOT)
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"lint-imports found a broken layer rule (docs/architecture.md):\n{report}"
    assert "0 broken" in report and "kept" in report, report


def test_lint_imports_fails_on_a_plumbing_module_that_imports_the_application(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "layered/__init__.py": "",
        "layered/plumbing.py": "import layered.app\n",
        "layered/app.py": "",
        "pyproject.toml": """
            [tool.importlinter]
            root_packages = ["layered"]

            [[tool.importlinter.contracts]]
            name = "plumbing below"
            type = "forbidden"
            source_modules = ["layered.plumbing"]
            forbidden_modules = ["layered.app"]
        """,
    })
    result = lint_imports(root, root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "layered.plumbing -> layered.app" in result.stdout, result.stdout


# --- (b) private names stay in their module ----------------------------------------------------

def test_no_module_imports_another_modules_private_name() -> None:
    found = private_imports(ROOT, SHIPPED)
    assert found == [], ("a private name imported from another module: make it public (and name it for "
                         "what it does) or move it where it is used:\n" + "\n".join(found))


def test_the_private_name_check_sees_absolute_and_relative_imports(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "def _helper():\n    pass\n",
        "pkg/b.py": "from pkg.a import _helper\n",
        "pkg/c.py": "def f():\n    from .a import _helper, public\n",
        "pkg/d.py": "from __future__ import annotations\nfrom pkg.a import __version__\n",
    })
    assert private_imports(root, ["pkg"]) == ["pkg/b.py:1: from pkg.a import _helper",
                                               "pkg/c.py:2: from pkg.a import _helper"]


# --- (c) no import cycle -----------------------------------------------------------------------

def test_no_import_cycle_type_checking_imports_included() -> None:
    graph = import_graph(modules(ROOT, SHIPPED))
    found = cycles(graph)
    assert not found, ("import cycles (TYPE_CHECKING and function-level imports count): break one edge of each, "
                       "e.g. move the shared piece down a layer or annotate with a Protocol:\n"
                       + "\n".join(describe(c, graph) for c in found))


def test_the_cycle_check_sees_a_type_checking_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/node.py": "from pkg.feature import Feature\n",
        "pkg/feature.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.node import Node\n",
        "pkg/leaf.py": "from pkg import feature\n",
    })
    graph = import_graph(modules(root, ["pkg"]))
    assert cycles(graph) == [frozenset({"pkg.node", "pkg.feature"})]
    assert describe(cycles(graph)[0], graph) == "pkg.feature -> pkg.node; pkg.node -> pkg.feature"


def test_the_cycle_check_sees_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from pkg.c import x\n",
        "pkg/c.py": "x = 1\ndef later():\n    from pkg.a import y\n",
    })
    assert cycles(import_graph(modules(root, ["pkg"]))) == [frozenset({"pkg.a", "pkg.b", "pkg.c"})]


# --- (d) the pure core imports only what it may -------------------------------------------------

def test_protocol_imports_only_the_standard_library_and_rfc8785() -> None:
    assert outside_imports(ROOT, "protocol", {"rfc8785"}) == []


def test_crypto_imports_only_the_standard_library_cryptography_rfc8785_and_protocol() -> None:
    # rfc8785: the signed federation documents are canonical JSON, as protocol's envelopes are.
    assert outside_imports(ROOT, "crypto", {"cryptography", "rfc8785", "protocol"}) == []


def test_the_allow_list_sees_a_third_party_import_inside_a_function(tmp_path: Path) -> None:
    root = _package(tmp_path, {"pure/__init__.py": "import json\n",
                               "pure/x.py": "def f():\n    import aiohttp\n    from pure import y\n",
                               "pure/y.py": ""})
    assert outside_imports(root, "pure", set()) == ["pure/x.py:2: imports aiohttp"]


# --- (e) no test-only module in the shipped package ----------------------------------------------

def unreached(graph: dict[str, set[str]], roots: Iterable[str]) -> set[str]:
    """Modules no root reaches through imports; a package counts as reached with any of its modules."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module not in graph:
            continue
        seen.add(module)
        todo.extend(graph[module])
        parent = module.rpartition(".")[0]
        todo.extend([parent] if parent else [])
    return set(graph) - seen


def test_every_module_of_nodes_is_used_by_the_product() -> None:
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["somex"]
    graph = import_graph(modules(ROOT, SHIPPED))
    # Loaded by name, not imported: the feature folders (discovered) and Alembic's migration scripts.
    loaded = [m for m in graph if m.startswith("nodes.national.features.") or ".migrations." in f"{m}."]
    found = sorted(m for m in unreached(graph, [entry.split(":")[0], *loaded]) if m.startswith("nodes."))
    assert found == [], f"modules of nodes/ that only the tests import: move them to tests/support/: {found}"


def test_the_reach_check_sees_a_module_only_tests_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/cli.py": "from pkg.sub import a\n",
                               "pkg/sub/__init__.py": "", "pkg/sub/a.py": "", "pkg/testing.py": ""})
    assert unreached(import_graph(modules(root, ["pkg"])), ["pkg.cli"]) == {"pkg.testing"}


# --- (f) the root key is the application's alone ------------------------------------------------

def root_key_readers(root: Path, packages: Iterable[str]) -> list[str]:
    """Modules whose code (not docstrings or comments) names the root key file."""
    found = []
    for module, path in modules(root, packages).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in ("root.key", "tls-ca.key"):
                found.append(module)
                break
    return found


def test_no_running_hub_or_node_code_reads_the_root_key() -> None:
    below_the_application = [p for p in ("protocol", "crypto", "nodes/plumbing", "nodes/hub", "nodes/national")
                             if (ROOT / p).is_dir()]
    assert root_key_readers(ROOT, below_the_application) == [], \
        "the root key is read by the ceremonies and the root operator's actions (nodes/app/) only"


def test_the_root_key_check_sees_a_path_built_in_code(tmp_path: Path) -> None:
    root = _package(tmp_path, {"pkg/__init__.py": '"""root.key is mentioned here only."""\n',
                               "pkg/a.py": 'from pathlib import Path\nKEY = Path("root") / "root.key"\n'})
    assert root_key_readers(root, ["pkg"]) == ["pkg.a"]
