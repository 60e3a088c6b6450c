"""The one catalog of message classes (protocol/catalog.py) and what is computed from it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from nodes.plumbing import federation
from protocol import catalog, messages, policy, retention
from protocol.message_class import MessageClass, MessageType
from protocol.schema import Obj

ROOT = Path(__file__).resolve().parents[2]
# A mutation run (tests/mutation/run.py) tests a copy in mutants/ whose modules import mutmut's trampolines.
INSTRUMENTATION = {"mutmut"} if ROOT.name == "mutants" else set()


def kind(name: str, role: str = "node") -> MessageType:
    return MessageType(name, role, header=Obj(), body=Obj(), retention_days=30)  # type: ignore[arg-type]


def declared() -> list[MessageType]:
    return [t for c in catalog.CLASSES for t in c.types]


def test_every_registered_type_is_declared_by_exactly_one_class_of_the_catalog() -> None:
    names = [t.name for t in declared()]
    assert len(names) == len(set(names))
    assert set(messages.REGISTRY) == set(names)
    assert all(messages.lookup(t.name) is t for t in declared())


def test_every_type_a_country_may_send_is_registered_with_sender_role_node() -> None:
    assert federation.COUNTRY_TYPES is catalog.COUNTRY_TYPES
    for name in federation.COUNTRY_TYPES:
        assert messages.lookup(name).sender_role == "node", name


def test_every_type_the_hub_may_send_is_registered_with_sender_role_hub() -> None:
    assert federation.HUB_TYPES is catalog.HUB_TYPES
    for name in federation.HUB_TYPES:
        assert messages.lookup(name).sender_role == "hub", name


def test_every_registered_type_may_be_sent_by_the_countries_or_by_the_hub() -> None:
    assert federation.COUNTRY_TYPES | federation.HUB_TYPES == set(messages.REGISTRY)
    assert not federation.COUNTRY_TYPES & federation.HUB_TYPES


def test_the_roots_published_documents_are_sent_by_the_hub_never_by_a_country() -> None:
    # nodes/hub/publication.py sends them; a node checks each against its sender's directory entry.
    publications = {"hub.directory", "hub.revocations"}
    assert publications <= federation.HUB_TYPES
    assert not publications & federation.COUNTRY_TYPES


def test_a_type_is_allowed_to_the_role_its_declaration_names() -> None:
    registry = {"a.b": kind("a.b"), "hub.c": kind("hub.c", "hub")}
    assert catalog.sent_by(registry, "node") == {"a.b"}
    assert catalog.sent_by(registry, "hub") == {"hub.c"}


def test_a_new_class_is_one_more_entry_and_its_types_are_indexed_in_order() -> None:
    extra = MessageClass("extra", (kind("extra.one"), kind("extra.two")))
    registry = catalog.index((*catalog.CLASSES, extra))
    assert list(registry) == [*messages.REGISTRY, "extra.one", "extra.two"]
    assert registry["extra.two"] is extra.types[1]


def test_a_type_declared_twice_is_refused_naming_it() -> None:
    twice = MessageClass("twice", (kind("note"),))
    with pytest.raises(ValueError, match=r"message type note is declared twice \(class twice\)"):
        catalog.index((*catalog.CLASSES, twice))


def test_a_sender_role_other_than_node_or_hub_is_refused() -> None:
    with pytest.raises(ValueError, match="sender_role"):
        kind("x.y", "root")


@pytest.mark.parametrize("retention", [{}, {"retention_days": 30, "kept_until": lambda created, body: "2030-01-01"}])
def test_a_type_declares_exactly_one_retention_rule(retention: dict) -> None:
    with pytest.raises(ValueError, match="x.y: declare exactly one of retention_days and kept_until"):
        MessageType("x.y", "node", header=Obj(), body=Obj(), **retention)
    assert MessageType("x.y", "node", header=Obj(), body=Obj(), kept_until=lambda c, b: c).retention_days is None


def test_only_a_sealed_type_may_carry_a_raw_plaintext() -> None:
    with pytest.raises(ValueError) as caught:
        MessageType("x.y", "node", header=Obj(), body=Obj(), retention_days=1, raw_plaintext=True)
    assert str(caught.value) == "x.y: only a sealed type carries a raw plaintext"
    assert MessageType("x.y", "node", header=Obj(), body=Obj(), retention_days=1, sealed=True,
                       raw_plaintext=True).raw_plaintext
    assert not MessageType("x.y", "node", header=Obj(), body=Obj(), retention_days=1, sealed=True).raw_plaintext


def test_policy_rules_are_the_ones_each_class_declares() -> None:
    assert policy.BODY_RULES == {t.name: t.body_rule for t in declared() if t.body_rule is not None}
    assert {t.name for t in declared() if t.envelope_rule is not None} == {"case.jit", "file.chunk"}


def test_the_largest_size_bound_is_the_one_checked_before_parsing() -> None:
    assert messages.MAX_MESSAGE_BYTES == max(t.max_bytes for t in declared())


def test_retention_is_each_types_own_declaration() -> None:
    assert retention.MAXIMUM_DAYS == {t.name: t.retention_days for t in declared() if t.kept_until is None}
    assert all(isinstance(days, int) and days > 0 for days in retention.MAXIMUM_DAYS.values())
    assert retention.ALERT_TYPES == {t.name for t in declared() if t.kept_until is not None}


# -- protocol/ imports only the standard library, rfc8785 and itself, without a cycle -----------------

def _imports(path: Path) -> set[str]:
    """Every module `path` imports, TYPE_CHECKING blocks included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {f"{node.module}.{a.name}" if node.module == "protocol" else node.module for a in node.names}
    return found


def _protocol_graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in (ROOT / "protocol").glob("*.py") if p.stem != "__init__"}
    return {name: {m.split(".")[1] for m in _imports(path) if m.startswith("protocol.")}
            for name, path in modules.items()}


def test_protocol_imports_only_the_standard_library_rfc8785_and_itself() -> None:
    outside = {m.split(".")[0] for p in (ROOT / "protocol").glob("*.py") for m in _imports(p)}
    assert outside - set(sys.stdlib_module_names) - {"rfc8785", "protocol", "__future__"} - INSTRUMENTATION == set()


def test_no_protocol_module_imports_itself_back_through_others() -> None:
    graph = _protocol_graph()

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert "catalog" in graph and "envelope" in reachable("policy")
    assert [m for m in sorted(graph) if m in reachable(m)] == []
