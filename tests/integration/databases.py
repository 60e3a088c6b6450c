"""A fixture for tests that run on both engines: empty databases, SQLite files or on the suite's PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """`database(name)`: the URL of a new empty database of this test's engine."""
    def new(name: str) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        server = request.getfixturevalue("postgres")
        test = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
        return server.create_database(f"t{os.getpid()}_{test[-30:]}_{name}".lower()[-63:])

    new.kind = request.param  # type: ignore[attr-defined]
    return new
