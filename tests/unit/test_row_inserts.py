"""insert_rows: the driver's cursor on a hot path must store exactly what SQLAlchemy would, in the
caller's transaction (rolled back and committed with it), and step aside where it could differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, Integer, LargeBinary, MetaData, String, Table, event, insert, select

from nodes.plumbing.db import make_engine
from nodes.plumbing.row_inserts import insert_rows

metadata = MetaData()
things = Table(
    "things", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("flag", Boolean, nullable=False),
    Column("raw", LargeBinary),
    Column("note", String(20)),
    Column("count", Integer, nullable=False, default=7),
)

ROWS = [{"name": "a", "flag": True, "raw": b"\x00\xff", "note": None, "count": 1},
        {"name": "b", "flag": False, "raw": None, "note": "x", "count": 2}]


@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    engine = make_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _stored(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(things).order_by(things.c.seq))]


def test_rows_are_stored_as_sqlalchemy_stores_them(engine, tmp_path: Path) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        insert_rows(conn, things, ROWS)
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    metadata.create_all(reference)
    with reference.begin() as conn:
        conn.execute(insert(things), ROWS)
    assert _stored(engine) == _stored(reference) == [(1, "a", True, b"\x00\xff", None, 1), (2, "b", False, None, "x", 2)]
    reference.dispose()


def test_the_rows_are_in_the_callers_transaction(engine) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(insert(things), {"name": "before", "flag": True, "count": 0})
        insert_rows(conn, things, ROWS[:1])
        raise RuntimeError("the transaction fails after the insert")
    assert _stored(engine) == []
    with pytest.raises(Exception, match="UNIQUE"), engine.begin() as conn:
        insert_rows(conn, things, ROWS[1:])
        insert_rows(conn, things, ROWS[1:])  # a constraint the database enforces still fails the whole
    assert _stored(engine) == []
    with engine.begin() as conn:
        insert_rows(conn, things, ROWS)
    assert [r[1] for r in _stored(engine)] == ["a", "b"]


def test_a_python_default_left_out_is_filled_by_sqlalchemy(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        insert_rows(conn, things, [{"name": "c", "flag": True}])
    assert _stored(engine) == [(1, "c", True, None, None, 7)]


def test_a_statement_listener_sees_the_inserts(engine) -> None:  # noqa: ANN001
    seen = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: seen.append(statement))
    with engine.begin() as conn:
        insert_rows(conn, things, ROWS)
    assert [s for s in seen if s.startswith("INSERT")]
    assert len(_stored(engine)) == 2


def test_a_value_sqlalchemy_would_refuse_is_refused(engine) -> None:  # noqa: ANN001
    with pytest.raises(Exception, match="boolean"), engine.begin() as conn:
        conn.execute(insert(things), {"name": "d", "flag": "yes", "count": 1})
    with pytest.raises(Exception, match="boolean"), engine.begin() as conn:
        insert_rows(conn, things, [{"name": "d", "flag": "yes", "count": 1}])
    assert _stored(engine) == []
