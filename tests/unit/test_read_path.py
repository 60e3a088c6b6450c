"""Sealed bodies reach focal points only through nodes/national/reads.py (which logs every
opening): nothing else in nodes/ calls the node's opener, opens a sealed payload, or touches a
private sealing key. The walk over every route is tests/integration/test_personal_data_reads.py."""

from __future__ import annotations

import ast
from pathlib import Path

NODES = Path(__file__).parents[2] / "nodes"
OPENERS = {"_open_body", "open_body", "open_sealed", "sealing_key", "hybrid_sealing_key"}
ALLOWED = {Path("national/node.py"): OPENERS,  # the inbox, and the opener itself
           Path("national/reads.py"): {"_open_body"},  # the read path
           Path("plumbing/federation.py"): {"sealing_key", "hybrid_sealing_key"}}  # loads the node's own keys


def _uses(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in OPENERS:
            names.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in OPENERS:
            names.add(node.id)
        elif isinstance(node, ast.alias) and node.name in OPENERS:
            names.add(node.name)
    return names


def test_only_the_inbox_and_the_read_path_open_sealed_bodies() -> None:
    offenders = {}
    for path in sorted(NODES.rglob("*.py")):
        relative = path.relative_to(NODES)
        extra = _uses(path) - ALLOWED.get(relative, set())
        if extra:
            offenders[str(relative)] = sorted(extra)
    assert offenders == {}, "open sealed bodies through nodes/national/reads.py::open_message, which logs them"


def test_the_scan_sees_a_direct_opening() -> None:
    assert _uses(NODES / "national" / "node.py") >= {"_open_body", "open_sealed"}
