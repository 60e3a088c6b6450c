"""Schema migrations (issue 18): the migrations make exactly the models' tables, start-up refuses a
schema that is not this release's, and a somex 0.3.0 node and hub upgrade with every row intact."""

from __future__ import annotations

import inspect as pyinspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from nodes.hub.audit import AuditStore
from nodes.hub.schema import HUB_SCHEMA
from nodes.national.schema import NODE_SCHEMA
from nodes.app.cli import main
from nodes.plumbing.db import make_engine
from nodes.plumbing.schema import UNVERSIONED, SchemaError, head, open_schema, open_store, upgrade
from tests.integration.databases import database  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# The last release without migrations (tag v0.3.0): revision 0001 is its schema. By commit, not by tag,
# because a clone need not carry the tags; the commit is in main's history.
PREVIOUS_RELEASE = "53c272d9ffc8d15c8942c9e8b35fe8e158689bc6"
SCHEMAS = {"node": (NODE_SCHEMA, "MEX"), "hub": (HUB_SCHEMA, "HUB")}


def _condition(index: dict) -> str | None:
    """A partial index's WHERE as the database reports it, spaces and case aside."""
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return None if where is None else " ".join(str(where).replace("(", " ").replace(")", " ").lower().split())


def _shape(engine: Engine, skip: set[str]) -> dict[str, object]:
    """Every table's columns (name, type, nullable, default), key, indexes (with a partial index's
    condition) and unique constraints."""
    found = inspect(engine)
    columns, keys = found.get_multi_columns(), found.get_multi_pk_constraint()
    indexes, uniques = found.get_multi_indexes(), found.get_multi_unique_constraints()
    foreign = found.get_multi_foreign_keys()
    return {name: {
        "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in columns[key]],
        "key": keys[key]["constrained_columns"],
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]), _condition(i))
                          for i in indexes[key]),
        "unique": sorted(tuple(u["column_names"]) for u in uniques[key]),
        "foreign": sorted(str(f) for f in foreign[key]),
    } for key in sorted(columns, key=lambda k: k[1]) if (name := key[1]) not in skip}


@pytest.mark.parametrize("side", ["node", "hub"])
def test_the_migrations_make_exactly_the_tables_the_code_declares(database, side: str) -> None:
    # Fails when someone adds a table, column or index to the models without a migration.
    schema, holder = SCHEMAS[side]
    declared, migrated = make_engine(database(f"{side}_declared")), make_engine(database(f"{side}_migrated"))
    try:
        for metadata in schema.metadata():
            metadata.create_all(declared)
        assert open_schema(migrated, schema, holder) == head(schema)
        expected = _shape(declared, set())
        assert set(expected) == {t for metadata in schema.metadata() for t in metadata.tables}
        assert _shape(migrated, {schema.version_table}) == expected
        with migrated.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), list(schema.metadata()))
        assert [d for d in differences if not (d[0] == "remove_table" and d[1].name == schema.version_table)] == []
    finally:
        declared.dispose()
        migrated.dispose()


def test_start_up_refuses_an_older_a_newer_an_unversioned_and_another_holders_database(tmp_path: Path) -> None:
    schema, url = NODE_SCHEMA, f"sqlite:///{tmp_path / 'node.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:  # a database at revision 0001, as `db upgrade` of 0.3 would leave... older
        from nodes.plumbing.schema import _migrate

        _migrate(conn, schema, "MEX", "0001")
    with pytest.raises(SchemaError) as older:
        open_schema(engine, schema, "MEX")
    assert older.value.reason == "schema_behind"
    assert f"somex db upgrade --node MEX --db {url}" in str(older.value) and head(schema) in str(older.value)

    with engine.begin() as conn:  # made by a newer release
        conn.execute(text(f"UPDATE {schema.version_table} SET version_num = '0099'"))
    with pytest.raises(SchemaError) as newer:
        open_schema(engine, schema, "MEX")
    assert newer.value.reason == "schema_ahead" and "0099" in str(newer.value)

    with engine.begin() as conn:  # made before migrations: tables, no version table
        conn.execute(text(f"DROP TABLE {schema.version_table}"))
    with pytest.raises(SchemaError) as unversioned:
        open_schema(engine, schema, "MEX")
    assert unversioned.value.reason == "schema_unversioned" and "somex db upgrade --node MEX" in str(unversioned.value)

    assert upgrade(engine, schema, "MEX") == (UNVERSIONED, head(schema))  # adopted as 0001, then upgraded
    with pytest.raises(SchemaError) as other:
        open_schema(engine, schema, "IDN")
    assert other.value.reason == "wrong_database" and "MEX" in str(other.value)
    assert open_schema(engine, schema, "MEX") == head(schema)
    engine.dispose()


def test_db_upgrade_refuses_another_sides_database_and_changes_nothing(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    open_store(url, HUB_SCHEMA, "HUB").dispose()
    engine = make_engine(url)
    before = _shape(engine, set())
    assert main(["db", "upgrade", "--node", "MEX", "--db", url]) == 2
    assert "wrong_database" in capsys.readouterr().err
    assert _shape(engine, set()) == before
    engine.dispose()
    assert main(["db", "upgrade", "--node", "MEX", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    typo = tmp_path / "no-such-dir" / "node.db"
    assert main(["db", "upgrade", "--node", "MEX", "--db", f"sqlite:///{typo}"]) == 2
    assert "no MEX's node database at" in capsys.readouterr().err and not typo.parent.exists()


# -- a real upgrade: somex 0.3.0's own code makes the schema and the rows -------------------------

def _rows(engine):  # noqa: ANN001, ANN202 - also run by somex 0.3.0 (its source is sent to the old process)
    from sqlalchemy import MetaData, select

    reflected = MetaData()
    reflected.reflect(engine)
    found = {}
    with engine.connect() as conn:
        for name, table in sorted(reflected.tables.items()):
            if name.startswith("somex_"):
                continue  # this release's version and identity tables
            rows = conn.execute(select(table).order_by(*table.columns)).all()
            found[name] = [[v.hex() if isinstance(v, bytes) else v for v in row] for row in rows]
    return found


# Run by somex 0.3.0: its module names (nodes.runtime, nodes.national.alerts ...), not today's.
_OLD_RELEASE_WRITER = '''
import json, sys
from sqlalchemy import Boolean, Integer, LargeBinary, String, func, insert, select
from nodes.runtime.db import make_engine

side, url = sys.argv[1], sys.argv[2]
engine = make_engine(url)
if side == "node":
    from nodes.national import alerts, cases, console_alerts, delivery, feeds, log_watch, mla, reads, store, witness
    from nodes.runtime import federation_state
    store.NodeStore(engine)  # the node's own start-up: its tables, column additions, backfills
    tables = [store.metadata, alerts.metadata, feeds.metadata, cases.metadata, mla.metadata, reads.metadata,
              console_alerts.metadata, federation_state.metadata]
    for metadata in tables:
        metadata.create_all(engine)
    root = None
else:
    from crypto.keys import SigningKey
    from nodes.hub.audit import AuditEntry, AuditStore, metadata
    from nodes.runtime import federation_state
    log = AuditStore(engine, "somex-test", SigningKey.generate(), "somex-test")
    log.append([AuditEntry("accepted", f"{i:064x}", "2026-12-01T10:00:00Z", message_id=f"m-{i}", type="note",
                           sender="MEX", recipients=["IDN"], marks_seen=True) for i in range(7)])
    log.sign_checkpoint("2026-12-01T10:00:01Z")
    federation_state.metadata.create_all(engine)
    tables = [metadata, federation_state.metadata]
    root = log.root().hex()

def value(column, row):
    kind = column.type
    if isinstance(kind, Boolean):
        return row % 2 == 0
    if isinstance(kind, Integer):
        return 1000 * row + len(column.name)
    if isinstance(kind, LargeBinary):
        return bytes([row, 0, 255]) + column.name.encode()
    text = f"{row}-{column.table.name}.{column.name}-\\u00e9"
    return text[: kind.length] if isinstance(kind, String) and kind.length else text

with engine.begin() as conn:
    for metadata in tables:
        for table in metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar():
                continue  # written by the release's own code above
            conn.execute(insert(table), [{c.name: value(c, row) for c in table.columns} for row in range(3)])
print(json.dumps({"rows": _rows(engine), "root": root}))
'''


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source of the previous release, as `git archive` gives it."""
    tree = tmp_path_factory.mktemp("somex-0.3.0")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE], capture_output=True, check=False)
    assert archive.returncode == 0, (f"release 0.3.0 ({PREVIOUS_RELEASE[:12]}) not in {REPO}'s history "
                                     f"({archive.stderr.decode()[:200]}): the test needs a full clone")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


@pytest.mark.parametrize("side", ["node", "hub"])
def test_a_database_of_the_previous_release_upgrades_with_every_row_intact(database, previous_release: Path,
                                                                          side: str, tmp_path: Path, capsys) -> None:
    schema, holder = SCHEMAS[side]
    url = database(f"{side}_old")
    script = tmp_path / "old_release_writer.py"
    script.write_text(textwrap.dedent(pyinspect.getsource(_rows)) + _OLD_RELEASE_WRITER)
    env = {**os.environ, "PYTHONPATH": str(previous_release)}
    made = subprocess.run([sys.executable, str(script), side, url], cwd=previous_release, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr[-3000:]
    old = json.loads(made.stdout.strip().splitlines()[-1])
    assert all(old["rows"][t] for t in old["rows"]), "every table of the old release holds rows"

    engine = make_engine(url)
    with pytest.raises(SchemaError, match="schema_unversioned"):  # the new release will not start on it as is
        open_schema(engine, schema, holder)
    command = ["db", "upgrade", "--db", url] + (["--node", holder] if side == "node" else ["--hub"])
    assert main(command + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["before"] == UNVERSIONED
    upgraded = _rows(engine)
    assert {t: upgraded[t] for t in old["rows"]} == old["rows"]  # every old row, as it was
    assert not any(upgraded[t] for t in set(upgraded) - set(old["rows"]))  # tables added since start empty
    assert open_schema(engine, schema, holder) == head(schema)  # starts now
    if side == "hub":
        log = AuditStore(engine, "somex-test")
        assert (log.size, log.root().hex()) == (7, old["root"])  # the log resumes at the same head
    engine.dispose()
