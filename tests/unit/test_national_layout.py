"""The national node's layout (issue 16): the core never imports a feature, features never import
each other, and every feature folder declares one Feature that the core discovers."""

from __future__ import annotations

import ast
from pathlib import Path

from nodes.national.feature import Feature, discover

NATIONAL = Path(__file__).parents[2] / "nodes" / "national"
FEATURES = NATIONAL / "features"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_the_core_imports_no_feature() -> None:
    offenders = {str(p.relative_to(NATIONAL)): sorted(i for i in _imports(p) if i.startswith("nodes.national.features."))
                 for p in NATIONAL.glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_features_do_not_import_each_other() -> None:
    offenders = {}
    for folder in (p for p in FEATURES.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        own = f"nodes.national.features.{folder.name}"
        for path in folder.rglob("*.py"):
            other = sorted(i for i in _imports(path) if i.startswith("nodes.national.features.")
                           and not (i == own or i.startswith(own + ".")))
            if other:
                offenders[str(path.relative_to(FEATURES))] = other
    assert offenders == {}


def test_the_scan_sees_an_import_of_a_feature(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from nodes.national.features.mla import authority\n")
    assert "nodes.national.features.mla.authority" in _imports(module)


def test_every_message_class_is_one_discovered_feature() -> None:
    found = discover()
    assert all(isinstance(f, Feature) for f in found)
    assert [f.name for f in found][:3] == ["mla", "cases", "alerts"]  # the console's navigation order
    owned = [t for f in found for t in [*f.effects, *f.batch_effects]]
    assert len(owned) == len(set(owned)), "two features claim one message type"
