"""Schema versions of the hub's and the nodes' databases (Alembic), checked at start-up.

Each side (`node`, `hub`) has its own script directory shipped in the package and its own version
table (`somex_node_schema_version`, `somex_hub_schema_version`), so both can share one database.
At start-up (`open_schema`): an empty database is created at the newest revision and stamped; one
at an older revision is refused with the `somex db upgrade` command to run; one at a revision this
release does not know (made by a newer one) is refused with the revision found; a database made
before migrations existed (somex 0.3: tables, no version table) must be upgraded once, which checks
that its tables are those of revision 0001 and adopts it. Decisions: docs/operations.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, create_engine, inspect, select
from sqlalchemy.exc import DBAPIError

BASELINE = "0001"  # revision 0001 = the schema of somex 0.3.0, the last release without migrations
# In both sides' schemas (nodes/plumbing/federation_state.py): its presence alone does not make a
# database the hub's or a node's, so a hub and a node may share one database.
SHARED_TABLES = frozenset({"federation_documents"})


class SchemaError(ValueError):
    """The database's schema is not one this release can run on; nothing was changed (the CLI prints
    it as one line, exit code 2)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail

    def __str__(self) -> str:
        return f"{self.detail} ({self.reason})"


@dataclass(frozen=True)
class Schema:
    side: str  # "node" or "hub"
    scripts: Path  # the Alembic script directory
    metadata: Callable[[], Sequence[MetaData]]  # the tables the code expects (the drift test's reference)

    @property
    def version_table(self) -> str:
        return f"somex_{self.side}_schema_version"

    @property
    def identity_table(self) -> str:
        return f"somex_{self.side}_identity"


@functools.cache
def identity_metadata(side: str) -> MetaData:
    """The table naming whose database it is (the node's country, or HUB): revision 0002. Restore
    and upgrade refuse a database or backup of another holder."""
    metadata = MetaData()
    Table(f"somex_{side}_identity", metadata,
          Column("holder", String(8), primary_key=True),
          Column("created_at", String(32), nullable=False))
    return metadata


def upgrade_command(schema: Schema, holder: str, where: str) -> str:
    who = f"--node {holder}" if schema.side == "node" else "--hub"
    return f"somex db upgrade {who} --db {where}"


def where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# -- Alembic plumbing -----------------------------------------------------------------------------

def _config(schema: Schema, conn: Connection, holder: str):  # noqa: ANN202 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(schema.scripts))
    config.attributes.update(connection=conn, schema=schema, holder=holder)
    return config


def run_env(context: Any) -> None:
    """The body of each script directory's env.py: migrate on the connection the caller passed."""
    attributes = context.config.attributes
    schema: Schema = attributes["schema"]
    context.configure(connection=attributes["connection"], target_metadata=list(schema.metadata()),
                      version_table=schema.version_table)
    with context.begin_transaction():
        context.run_migrations()


@functools.cache
def _scripts(schema: Schema):  # noqa: ANN202 - alembic.script.ScriptDirectory
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(schema.scripts))


def head(schema: Schema) -> str:
    return _scripts(schema).get_current_head()


def known_revisions(schema: Schema) -> list[str]:
    """Oldest first."""
    return [s.revision for s in reversed(list(_scripts(schema).walk_revisions()))]


def current_revision(conn: Connection, schema: Schema) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": schema.version_table}).get_current_revision()


@functools.cache
def baseline_columns(schema: Schema) -> dict[str, frozenset[str]]:
    """Table → column names of revision 0001 (built in a scratch in-memory SQLite database)."""
    scratch = create_engine("sqlite://")
    with scratch.begin() as conn:
        _migrate(conn, schema, "-", BASELINE)
        found = inspect(conn)
        tables = {t: frozenset(c["name"] for c in found.get_columns(t)) for t in found.get_table_names()}
    scratch.dispose()
    tables.pop(schema.version_table, None)
    return tables


def _migrate(conn: Connection, schema: Schema, holder: str, target: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(schema, conn, holder), target)


# -- what start-up and `somex db upgrade` do ------------------------------------------------------

@dataclass(frozen=True)
class SchemaState:
    revision: str | None  # None: no version table
    own_tables: frozenset[str]  # tables of revision 0001 that exist (without a version table only)
    other_tables: frozenset[str]  # tables that are not this side's (without a version table only)


def _state(conn: Connection, schema: Schema) -> SchemaState:
    tables = set(inspect(conn).get_table_names())
    if schema.version_table in tables:
        return SchemaState(current_revision(conn, schema), frozenset(), frozenset())
    if not tables:
        return SchemaState(None, frozenset(), frozenset())
    revision = None
    baseline = set(baseline_columns(schema))
    ours = baseline | {schema.version_table, schema.identity_table}
    return SchemaState(revision, frozenset(tables & baseline - SHARED_TABLES),
                       frozenset(t for t in tables if t not in ours))


def open_schema(engine: Engine, schema: Schema, holder: str) -> str:
    """Start-up: the database's revision if it is this release's (an empty database is created at it
    and stamped); SchemaError with what to do otherwise, nothing changed."""
    at = head(schema)
    try:
        with engine.begin() as conn:
            state = _state(conn, schema)
            if state.revision is None and not state.own_tables:
                _migrate(conn, schema, holder)
                return at
    except DBAPIError:
        # Two processes creating one database at once (an active and a standby hub): the one that
        # lost the race finds it made by the other, and goes on checking it as below.
        with engine.connect() as conn:
            state = _state(conn, schema)
        if state.revision is None:
            raise
    if state.revision is None:
        raise SchemaError("schema_unversioned", f"the {schema.side}'s database {where(engine)} was made before "
                          f"schema migrations (somex 0.3): stop, back it up, and run "
                          f"'{upgrade_command(schema, holder, where(engine))}' once")
    _check_known(engine, schema, state.revision)
    if state.revision != at:
        raise SchemaError("schema_behind", f"the {schema.side}'s database {where(engine)} is at schema revision "
                          f"{state.revision}, this somex needs {at}: stop, back it up and run "
                          f"'{upgrade_command(schema, holder, where(engine))}'")
    with engine.connect() as conn:
        check_holder(conn, engine, schema, holder)
    return at


def open_store(db_url: str, schema: Schema, holder: str) -> Engine:
    """The engine of a hub's or node's database for a process that runs on it: schema checked
    (`open_schema`), the running process's lease taken (nodes/plumbing/store_lease.py: a restore
    refuses to overwrite it; released when the engine is disposed)."""
    from nodes.plumbing.db import make_engine
    from nodes.plumbing.store_lease import hold_shared

    engine = make_engine(db_url)
    try:
        open_schema(engine, schema, holder)
        hold_shared(engine, schema.side)
    except BaseException:
        engine.dispose()
        raise
    return engine


UNVERSIONED = "unversioned"  # `upgrade`'s "revision before" of a database made by somex 0.3


def upgrade(engine: Engine, schema: Schema, holder: str) -> tuple[str | None, str]:
    """`somex db upgrade`: (revision before: None for an empty database, UNVERSIONED for one of
    somex 0.3; revision after). A database of somex 0.3 (no version table) is first checked to hold
    exactly revision 0001's tables and columns, then adopted.
    SchemaError, nothing changed, for a newer revision, another holder's or another side's database."""
    with engine.begin() as conn:
        state = _state(conn, schema)
        if state.revision is None and state.own_tables:
            _check_baseline(conn, engine, schema, state)
        elif state.revision is None and state.other_tables:
            raise SchemaError("wrong_database", f"the database {where(engine)} holds no {schema.side} tables but "
                              f"others ({', '.join(sorted(state.other_tables)[:5])}): check --db. (A {schema.side} "
                              f"started on a database shared with another side creates its tables itself.)")
        elif state.revision is not None:
            _check_known(engine, schema, state.revision)
            check_holder(conn, engine, schema, holder)
        _migrate(conn, schema, holder)
        after = current_revision(conn, schema)
    before = UNVERSIONED if state.revision is None and state.own_tables else state.revision
    return before, after or head(schema)


def _check_known(engine: Engine, schema: Schema, revision: str) -> None:
    if revision not in known_revisions(schema):
        raise SchemaError("schema_ahead", f"the {schema.side}'s database {where(engine)} is at schema revision "
                          f"{revision}, which this somex does not know (newest: {head(schema)}): it was made by a "
                          f"newer release; run that release, or restore a backup made with this one")


def check_holder(conn: Connection, engine: Engine, schema: Schema, holder: str) -> None:
    if schema.identity_table not in inspect(conn).get_table_names():
        return  # revision 0001: the holder is recorded by revision 0002
    table = identity_metadata(schema.side).tables[schema.identity_table]
    found = conn.execute(select(table.c.holder)).scalars().all()
    if found and found != [holder]:
        raise SchemaError("wrong_database", f"the database {where(engine)} is {', '.join(found)}'s {schema.side} "
                          f"database, not {holder}'s: check --db"
                          + (" and --node" if schema.side == "node" else ""))


def _check_baseline(conn: Connection, engine: Engine, schema: Schema, state: SchemaState) -> None:
    if state.other_tables:
        raise SchemaError("wrong_database", f"the database {where(engine)} holds tables that are not the "
                          f"{schema.side}'s ({', '.join(sorted(state.other_tables)[:5])}): is it another side's "
                          f"or another application's database? Nothing changed")
    expected = baseline_columns(schema)
    found = inspect(conn)
    for table in sorted(set(found.get_table_names()) & set(expected)):
        columns = frozenset(c["name"] for c in found.get_columns(table))
        if columns != expected[table]:
            raise SchemaError("wrong_database", f"table {table} of {where(engine)} has columns "
                              f"{sorted(columns ^ expected[table])} that differ from somex 0.3's: not a database "
                              f"this release can adopt; nothing changed")
