"""The alert replica of a national node: every active alert of every other country, applied from
`alert.document` and `alert.document.batch` messages, checked locally, with hits reported back to
the issuing country (docs/alerts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import (
    Boolean, Column, Connection, Engine, Index, MetaData, String, Table, delete, func, insert, select,
)

from crypto.signing import VerifiedEnvelope
from nodes.plumbing.config import utcnow
from nodes.plumbing.private_files import write_private
from protocol.alerts import (
    AlertVersion, ReplicaEntry, merge, normalise_document_number, review_date, sent_bound, version_key,
)
from protocol.envelope import Envelope
from protocol import retention
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.feature import FeatureContext

log = structlog.get_logger("somex.alerts")

metadata = MetaData()
TOMBSTONE_KEY_FILE = "tombstone.key"

# One row per document (tombstones included); the composite primary key is the check's index.
# The record columns are those of the newest live version (protocol.alerts.ReplicaEntry.record).
RECORD_COLUMNS = ("document_number", "status", "reported", "event_date", "issue_date", "expiry_date",
                  "review_date", "national_reference")
replica = Table(
    "alert_replica", metadata,
    Column("issuing_country", String(3), primary_key=True),
    Column("document_type", String(32), primary_key=True),
    Column("number", String(64), primary_key=True),  # normalised
    Column("active", Boolean, nullable=False),
    Column("document_number", String(64), nullable=False),  # as the issuing country wrote it
    Column("status", String(16), nullable=False),
    Column("reported", String(10), nullable=False),
    Column("event_date", String(10)),
    Column("issue_date", String(10)),
    Column("expiry_date", String(10)),
    Column("review_date", String(10), nullable=False),  # given, or reported + 10 years
    Column("national_reference", String(128)),
    Column("lifecycle_key", String(80)),
    Column("withdrawn", Boolean, nullable=False),
    Column("update_key", String(80)),
    sqlite_with_rowid=False,
)
hits = Table(
    "alert_hits", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("checking_country", String(3), nullable=False),
    Column("issuing_country", String(3), nullable=False),
    Column("document_type", String(32), nullable=False),
    Column("document_number", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("checked_at", String(32), nullable=False),
    Column("check_kind", String(16), nullable=False),
    Column("point", String(120), nullable=False),
    Column("received_at", String(32), nullable=False),
    Index("ix_alert_hits_received", "received_at"),
)

_ROW = ("active", *RECORD_COLUMNS, "lifecycle_key", "withdrawn", "update_key")
_COLUMNS = ("issuing_country", "document_type", "number", *_ROW)


def _record(alert: Mapping[str, Any], bound: str) -> tuple:
    """The replica's record columns of `alert`; `bound`: sent_bound of its message (the review
    date is alert_kept_until: the alert's own, at most that)."""
    return (alert["document_number"], alert["status"], alert["reported"], alert.get("event_date"),
            alert.get("issue_date"), alert.get("expiry_date"), min(review_date(alert), bound),
            alert.get("national_reference"))


def _entry(row: Sequence[Any]) -> ReplicaEntry:
    """A replica entry from a row in _COLUMNS order."""
    return ReplicaEntry(row[12], bool(row[13]), row[14], tuple(row[4:12]))


def _row(key: tuple[str, str, str], entry: ReplicaEntry) -> tuple:
    return (*key, entry.active, *entry.record, entry.lifecycle_key, entry.withdrawn, entry.update_key)


def versions_of(env: Envelope, alerts: Sequence[Mapping[str, Any]]) -> list[tuple[tuple[str, str, str], AlertVersion]]:
    """The replica versions carried by one message, in batch order."""
    stamp = version_key(env.created, env.id, 0)[:-4]  # the per-alert index completes the key
    bound = sent_bound(env.created)
    return [((a["issuing_country"], a["document_type"], normalise_document_number(a["document_number"])),
             AlertVersion(f"{stamp}{i:04d}", a["action"], _record(a, bound)))
            for i, a in enumerate(alerts)]


def apply_versions(conn: Connection, versions: Iterable[tuple[tuple[str, str, str], AlertVersion]], *,
                   tombstone_key: bytes) -> int:
    """Merge versions into the replica in the caller's transaction; the number of entries changed.

    A withdrawn alert leaves a tombstone so that older versions arriving late stay ignored; the
    tombstone keeps only what orders versions: its row is keyed by `tombstone_number` (a keyed
    hash of the document) and holds no number, status, dates or national reference (issue 20).
    One exception: a tombstone with a pending newer update keeps that update's record, which a
    late older create would bring back (protocol.alerts.merge).

    Driver-level SQL (one SELECT per 900 numbers, one executemany upsert): this runs for every
    alert of every feed at every node, and SQLAlchemy's per-row parameter processing would cost
    more than the database does.
    """
    versions = list(versions)
    if not versions:
        return 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    current: dict[tuple[str, str, str], ReplicaEntry] = {}
    stored_as: dict[tuple[str, str, str], str] = {}  # the number each current entry's row has
    for (country, type), numbers in _numbers_by_document_kind(k for k, _ in versions).items():
        hashed = {tombstone_number(tombstone_key, country, type, n): n for n in numbers}
        for chunk in _chunks(sorted(numbers | hashed.keys()), 900):
            rows = conn.exec_driver_sql(
                f"SELECT {', '.join(_COLUMNS)} FROM alert_replica WHERE issuing_country = {mark} "
                f"AND document_type = {mark} AND number IN ({', '.join([mark] * len(chunk))})",
                (country, type, *chunk))
            for row in rows:
                key = (row[0], row[1], hashed.get(row[2], row[2]))
                current[key] = _entry(row)
                stored_as[key] = row[2]
    changed: dict[tuple[str, str, str], ReplicaEntry] = {}
    for key, version in versions:
        merged = merge(changed.get(key) or current.get(key), version)
        if merged is not None:
            changed[key] = merged
    if changed:
        rows, moved = [], []
        for key, entry in changed.items():
            row = _row(key, entry)
            if _is_bare_tombstone(entry):
                row = _tombstone_row(row, tombstone_number(tombstone_key, *key))
            if key in stored_as and stored_as[key] != row[2]:
                moved.append((key[0], key[1], stored_as[key]))
            rows.append(row)
        for old in moved:  # a withdrawn alert's live row, or a re-created alert's tombstone
            conn.exec_driver_sql(f"DELETE FROM alert_replica WHERE issuing_country = {mark} "
                                 f"AND document_type = {mark} AND number = {mark}", old)
        conn.exec_driver_sql(_upsert_sql(mark), rows)
    return len(changed)


def tombstone_number(key: bytes, country: str, type: str, number: str) -> str:
    """The replica key of a tombstone: a keyed hash of the document (the node's own key, kept with
    its other keys), so the database does not say which document was alerted on."""
    digest = hmac.new(key, f"{country}\x1f{type}\x1f{number}".encode(), hashlib.sha256).hexdigest()
    return f"#{digest[:48]}"


def _is_bare_tombstone(entry: ReplicaEntry) -> bool:
    return entry.withdrawn and entry.update_key is None


def _tombstone_row(row: tuple, number: str) -> tuple:
    """A tombstone row: ordering keys and the review date (for the purge), nothing else."""
    record = dict(zip(RECORD_COLUMNS, row[4:12]))
    scrubbed = {c: None for c in RECORD_COLUMNS} | {"document_number": number, "status": "", "reported": "",
                                                     "review_date": record["review_date"]}
    return (*row[:2], number, row[3], *(scrubbed[c] for c in RECORD_COLUMNS), *row[12:])


def load_tombstone_key(home: Path) -> bytes:
    """The node's tombstone key (32 random bytes, created on first use, private to the node's user)."""
    path = home / TOMBSTONE_KEY_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _upsert_sql(mark: str) -> str:
    return (f"INSERT INTO alert_replica ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))}) "
            "ON CONFLICT (issuing_country, document_type, number) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _ROW))


def _numbers_by_document_kind(keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], set[str]]:
    """Numbers grouped by (issuing country, document type): each group is one primary-key range."""
    groups: dict[tuple[str, str], set[str]] = {}
    for country, type, number in keys:
        groups.setdefault((country, type), set()).add(number)
    return groups


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- effects of incoming messages ---------------------------------------------------------------

def apply_alerts(ctx: FeatureContext, conn: Connection,
                 items: Sequence[tuple[VerifiedEnvelope, Mapping[str, Any] | None]]) -> None:
    """The single alerts of one consumed batch, merged in one SELECT and one upsert (merging is
    by version key, so the result is that of applying them one by one)."""
    apply_versions(conn, [v for verified, body in items for v in versions_of(verified.envelope, [body])],
                   tombstone_key=ctx.service.tombstone_key)


def apply_alert_batch(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                      body: Mapping[str, Any] | None) -> None:
    assert body is not None
    changed = apply_versions(conn, versions_of(verified.envelope, body["alerts"]),
                             tombstone_key=ctx.service.tombstone_key)
    ctx.log.debug("alert batch applied", message_id=verified.id, alerts=len(body["alerts"]), changed=changed)


def record_hit(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
               body: Mapping[str, Any] | None) -> None:
    """A hit on one of this country's alerts, reported by the country that checked the document."""
    assert body is not None
    env = verified.envelope
    conn.execute(insert(hits), {
        "message_id": env.id, "checking_country": env.sender, "issuing_country": body["issuing_country"],
        "document_type": body["document_type"], "document_number": body["document_number"],
        "status": body["status"], "checked_at": body["checked_at"], "check_kind": body["check"],
        "point": body["point"], "received_at": format_time(utcnow()),
    })
    ctx.log.info("hit on an alert reported", message_id=env.id, by=env.sender, document_type=body["document_type"])


EFFECTS = {"alert.document.batch": apply_alert_batch, "alert.hit": record_hit}
BATCH_EFFECTS = {"alert.document": apply_alerts}


def purge(ctx: FeatureContext, now: datetime) -> dict[str, int]:
    """The feature's part of the node's retention sweep: alerts past their review date, hits past
    their class maximum (protocol/retention.py)."""
    return {"alerts": purge_expired(ctx.db, now.date().isoformat()),
            "hits": purge_hits(ctx.db, now - timedelta(days=retention.MAXIMUM_DAYS["alert.hit"]))}


def close(ctx: FeatureContext) -> None:
    ctx.service.close()


# -- checks -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckResult:
    country: str
    type: str
    number: str  # normalised
    alert: Mapping[str, Any] | None  # the alert's record when the document is flagged

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"hit": self.alert is not None, "issuing_country": self.country,
                                  "document_type": self.type, "number": self.number}
        if self.alert is not None:
            answer["alert"] = self.alert
            answer["status"] = self.alert["status"]
            answer["origin"] = self.country  # only the issuing country alerts on its documents
        return answer


_CHECK_COLUMNS = ", ".join(RECORD_COLUMNS)


class ReplicaReader:
    """Single checks on a dedicated database connection, answered synchronously.

    A replica lookup is one primary-key probe (microseconds); a thread hop would cost more than
    the query. Each SELECT runs in its own implicit transaction, so it sees every committed apply.
    """

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = (f"SELECT {_CHECK_COLUMNS} FROM alert_replica WHERE issuing_country = {mark} "
                     f"AND document_type = {mark} AND number = {mark} AND active AND review_date >= {mark}")
        self._cursor = self._raw.cursor()
        self._ends_transaction = engine.dialect.name != "sqlite"  # sqlite3 opens none for a SELECT

    def check(self, country: str, type: str, number: str, today: str) -> CheckResult:
        normalised = normalise_document_number(number)
        self._cursor.execute(self._sql, (country, type, normalised, today))
        row = self._cursor.fetchone()
        if self._ends_transaction:
            self._raw.rollback()
        return CheckResult(country, type, normalised, _alert_json(country, type, row) if row else None)

    def close(self) -> None:
        self._cursor.close()
        self._raw.close()


def _alert_json(country: str, type: str, row: Sequence[Any]) -> dict[str, Any]:
    alert = {"issuing_country": country, "document_type": type}
    alert.update((name, value) for name, value in zip(RECORD_COLUMNS, row) if value is not None)
    return alert


def check_many(engine: Engine, documents: Sequence[tuple[str, str, str]], today: str) -> list[CheckResult]:
    """Batch check (a border system's queue): one query per issuing country and document type."""
    wanted = [(c, t, normalise_document_number(n)) for c, t, n in documents]
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for (country, type), numbers in _numbers_by_document_kind(wanted).items():
            for chunk in _chunks(sorted(numbers), 900):
                rows = conn.execute(select(replica.c.number, *(replica.c[c] for c in RECORD_COLUMNS))
                                    .where(replica.c.issuing_country == country, replica.c.document_type == type,
                                           replica.c.number.in_(chunk), replica.c.active,
                                           replica.c.review_date >= today))
                for row in rows:
                    found[(country, type, row[0])] = _alert_json(country, type, row[1:])
    return [CheckResult(c, t, n, found.get((c, t, n))) for c, t, n in wanted]


def hit_report(result: CheckResult, *, checked_at: str, check: str, point: str) -> dict[str, Any]:
    """The `alert.hit` body for a flagged document: which alert, when, where; nothing about the traveller."""
    assert result.alert is not None
    return {"issuing_country": result.country, "document_type": result.type, "document_number": result.number,
            "status": result.alert["status"], "checked_at": checked_at, "check": check, "point": point}


# -- housekeeping -------------------------------------------------------------------------------

def purge_expired(engine: Engine, today: str) -> int:
    """Alerts (and tombstones) past their review date leave the replica."""
    with engine.begin() as conn:
        removed = conn.execute(delete(replica).where(replica.c.review_date < today)).rowcount
    if removed:
        log.info("expired alerts removed from the replica", removed=removed, before=today)
    return removed


def purge_hits(engine: Engine, before: datetime) -> int:
    """Hits reported on this country's alerts, received before `before` (protocol/retention.py);
    the caller erases (nodes/national/retention.py)."""
    with engine.begin() as conn:
        removed = conn.execute(delete(hits).where(hits.c.received_at < format_time(before))).rowcount
    return removed


def replica_counts(engine: Engine, today: str) -> dict[str, int]:
    """Active, unexpired alerts held, by issuing country."""
    with engine.connect() as conn:
        rows = conn.execute(select(replica.c.issuing_country, func.count())
                            .where(replica.c.active, replica.c.review_date >= today)
                            .group_by(replica.c.issuing_country))
        return {country: count for country, count in rows}


def received_hits(engine: Engine, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(hits).order_by(hits.c.received_at.desc(), hits.c.message_id)
                            .limit(limit).offset(offset))
        return [dict(r._mapping) for r in rows]


class Alerts:
    """The alert side of a node: its tombstone key and its check reader."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.engine = ctx.db
        self.tombstone_key = load_tombstone_key(ctx.home)
        self._reader: ReplicaReader | None = None

    @property
    def reader(self) -> ReplicaReader:
        if self._reader is None:
            self._reader = ReplicaReader(self.engine)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


__all__ = ["Alerts", "CheckResult", "ReplicaReader", "apply_versions", "check_many", "hit_report",
           "load_tombstone_key", "purge_expired", "purge_hits", "tombstone_number", "received_hits", "replica_counts", "versions_of"]
