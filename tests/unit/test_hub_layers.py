"""The hub's parts depend on each other one way (nodes/hub/): the decision is pure, the web part
reads the log through the storage interface only, and the log's parts do no broker I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "nodes" / "hub"
WEB = ("api", "console", "export", "sequence", "volume", "metrics", "web_view")
LOG = ("entry", "log_tables", "log_storage", "sequencer", "checkpoints", "audit")


def imports(module: str) -> set[str]:
    """Every module `nodes/hub/<module>.py` imports, TYPE_CHECKING and function-level imports included."""
    tree = ast.parse((HUB / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _reaches(found: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in found if name.split(".")[0] in prefixes or name.startswith(prefixes))


def test_decide_does_no_io_and_reads_no_clock() -> None:
    found = imports("decide")
    assert not _reaches(found, ("aio_pika", "aiormq", "aiohttp", "sqlalchemy", "structlog", "nodes.plumbing",
                                "nodes.app", "nodes.national", "asyncio", "socket", "time"))
    assert not [n for n in found if n.startswith("nodes.hub") and n.split(".")[2] not in ("entry",)]
    source = (HUB / "decide.py").read_text()
    assert "datetime.now" not in source and "utcnow" not in source


@pytest.mark.parametrize("module", WEB)
def test_the_web_part_reads_the_log_through_the_storage_interface_only(module: str) -> None:
    hub_modules = {n.split(".")[2] for n in imports(module) if n.startswith("nodes.hub.")}
    assert hub_modules <= {"console", "export", "sequence", "volume", "web_view", "log_storage"}, hub_modules


@pytest.mark.parametrize("module", LOG)
def test_the_log_does_no_broker_io_and_knows_no_relay(module: str) -> None:
    found = imports(module)
    assert not _reaches(found, ("aio_pika", "aiormq", "aiohttp", "nodes.plumbing.amqp", "nodes.plumbing.rabbit",
                                "nodes.app", "nodes.hub.relay",
                                "nodes.hub.decide", "nodes.hub.forwarding"))


def test_no_hub_module_is_as_long_as_the_old_relay() -> None:
    assert {p.name: n for p in HUB.glob("*.py") if (n := len(p.read_text().splitlines())) >= 400} == {}


def test_no_import_cycle_among_the_hub_modules_type_checking_included() -> None:
    modules = {p.stem for p in HUB.glob("*.py") if p.stem != "__init__"}
    graph = {m: {n.split(".")[2] for n in imports(m) if n.startswith("nodes.hub.") and n.split(".")[2] in modules}
             for m in modules}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                raise AssertionError(f"import cycle: {' -> '.join([*path, module, target])}")
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [])
