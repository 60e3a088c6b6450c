"""The national core's modules see their node through the Protocols of nodes/national/parts.py,
never through `NationalNode` (no import cycle: tests/unit/test_import_rules.py). Nothing checks a
Protocol at run time, so this does: every member a Protocol of parts.py declares is one the node
has (a method or property of the class, or an attribute its __init__ sets); a renamed node member
fails here, not in production when the one code path that reads it runs."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Protocol

from nodes.national import parts
from nodes.national.node import NationalNode

NODE_SOURCE = Path(inspect.getfile(NationalNode))


def protocol_members(protocol: type) -> set[str]:
    """The members a Protocol declares in its own body and in its Protocol bases."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        names |= set(getattr(klass, "__annotations__", {}))
        names |= {n for n, v in vars(klass).items() if inspect.isfunction(v) or isinstance(v, property)}
    return names


def instance_attributes(cls: type, source: Path) -> set[str]:
    """`self.<name> = ...` (plain or annotated) anywhere in `cls`'s body in `source`."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    found = set()
    for node in ast.walk(body):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    found.add(t.attr)
    return found


def node_parts() -> list[type]:
    return [v for v in vars(parts).values()
            if isinstance(v, type) and getattr(v, "_is_protocol", False) and v.__module__ == parts.__name__]


def test_the_node_has_every_member_the_core_modules_use() -> None:
    has = set(dir(NationalNode)) | instance_attributes(NationalNode, NODE_SOURCE)
    missing = {p.__name__: sorted(protocol_members(p) - has) for p in node_parts()}
    assert {k: v for k, v in missing.items() if v} == {}, "NationalNode lacks what nodes/national/parts.py promises"
    assert len(node_parts()) >= 6 and "federation" in protocol_members(parts.NodeBasics)


def test_the_member_check_sees_a_missing_attribute(tmp_path: Path) -> None:
    source = tmp_path / "node.py"
    source.write_text("class Node:\n    def __init__(self):\n        self.country = 'X'\n        self.log: int = 1\n")

    class Node:
        pass

    class Wants(Protocol):
        country: str
        log: int
        store: object

        def wake_soon(self) -> None: ...

    assert protocol_members(Wants) - instance_attributes(Node, source) - set(dir(Node)) == {"store", "wake_soon"}
