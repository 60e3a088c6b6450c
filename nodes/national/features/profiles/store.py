"""The newest profile of each country this node knows (its own included), one row per country."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, insert, select, update

metadata = MetaData()
profiles = Table(
    "profiles", metadata,
    Column("country", String(3), primary_key=True),
    Column("serial", Integer, nullable=False),
    Column("profile", Text, nullable=False),  # the signed body, as JSON
    Column("message_id", String(36), nullable=False),  # the profile.publish message that carried it
    Column("stored_at", String(32), nullable=False),
)


def serial_of(conn: Connection, country: str) -> int | None:
    return conn.execute(select(profiles.c.serial).where(profiles.c.country == country)).scalar()


def put(conn: Connection, body: Mapping[str, Any], message_id: str, at: str) -> None:
    """Store `body` as its country's profile in force (the caller checked its serial is newer)."""
    row = {"serial": body["serial"], "profile": json.dumps(body, ensure_ascii=False, sort_keys=True),
           "message_id": message_id, "stored_at": at}
    if serial_of(conn, body["country"]) is None:
        conn.execute(insert(profiles), {"country": body["country"], **row})
    else:
        conn.execute(update(profiles).where(profiles.c.country == body["country"]).values(**row))


def _view(row: Any) -> dict[str, Any]:
    return {"profile": json.loads(row.profile), "message_id": row.message_id, "stored_at": row.stored_at}


def get(conn: Connection, country: str) -> dict[str, Any] | None:
    row = conn.execute(select(profiles).where(profiles.c.country == country)).first()
    return _view(row) if row is not None else None


def every(conn: Connection) -> list[dict[str, Any]]:
    return [_view(row) for row in conn.execute(select(profiles).order_by(profiles.c.country))]
