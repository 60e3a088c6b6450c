"""The hub's database schema: the audit store's tables and its migrations (Alembic).

`hub_metadata()` is the one place that lists the hub's tables (issue 18): the drift test compares
the migrations with it, so a table or column added without a migration fails the tests.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData

from protocol.policy import HUB_ID
from nodes.plumbing.schema import Schema, identity_metadata, open_store


def hub_metadata() -> list[MetaData]:
    """Every MetaData whose tables live in the hub's database."""
    from nodes.hub import audit
    from nodes.plumbing import federation_state

    return [audit.metadata, federation_state.metadata, identity_metadata("hub")]


HUB_SCHEMA = Schema("hub", Path(__file__).with_name("migrations"), hub_metadata)


def open_hub_store(db_url: str) -> Engine:
    """The hub's database, checked to be at this release's schema (SchemaError otherwise)."""
    return open_store(db_url, HUB_SCHEMA, HUB_ID)
