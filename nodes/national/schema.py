"""The national node's database schema: every table a node keeps, and its migrations (Alembic).

`node_metadata()` is the one place that lists the node's tables (issue 18): the drift test compares
the migrations with it, so a table or column added without a migration fails the tests.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData

from nodes.national import reads, store
from nodes.national.feature import discover
from nodes.plumbing import federation_state
from nodes.plumbing.schema import Schema, identity_metadata, open_store


def node_metadata() -> list[MetaData]:
    """Every MetaData whose tables live in a national node's database."""
    features = [tables for feature in discover() for tables in feature.tables]
    return [store.metadata, reads.metadata, federation_state.metadata, *features, identity_metadata("node")]


NODE_SCHEMA = Schema("node", Path(__file__).with_name("migrations"), node_metadata)


def open_node_store(db_url: str, country: str) -> Engine:
    """`country`'s node database, checked to be at this release's schema (SchemaError otherwise)."""
    return open_store(db_url, NODE_SCHEMA, country)
