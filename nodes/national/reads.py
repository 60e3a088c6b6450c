"""Which received messages a focal point has opened in the console (the inbox's unread marks)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
reads = Table(
    "message_reads", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("read_at", String(32), nullable=False),
)


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


def mark_read(engine: Engine, message_id: str, at: str) -> None:
    """The first opening counts; opening it again (or in two tabs at once) changes nothing."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(reads), {"message_id": message_id, "read_at": at})
    except IntegrityError:
        pass


def read_ids(engine: Engine, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(reads.c.message_id).where(reads.c.message_id.in_(ids))).scalars())
