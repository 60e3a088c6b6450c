"""The person-alert replica of a national node and what the issuer keeps: tables, the effects of
`person.alert` and `person.hit`, the candidate search of a border check, retention.

The replica holds the newest version of every person alert addressed to this country; a withdrawn
alert leaves a tombstone (its key and version, no person data) so that a late older version stays
ignored. Names are filed in `person_alert_keys` under their block pairs (names.index_keys) and the
birth date, so a check reads a handful of index entries whatever the replica's size
(docs/person-alerts.md, "The replica").
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean, Column, Connection, Engine, Index, Integer, MetaData, String, Table, Text, bindparam, delete, func, insert,
    select, update,
)

from nodes.national.store import mark_personal_data_deleted
from nodes.national.store import messages as stored_messages
from nodes.plumbing.row_inserts import insert_rows
from nodes.national.features.person.names import PersonName, distinct_forms, index_keys, latin_forms
from protocol.person import person_alert_kept_until, review_date

metadata = MetaData()
UNKNOWN_DATE = ""  # no birth date: such alerts are candidates whatever the traveller's

person_alerts = Table(
    "person_alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", String(3), nullable=False),
    Column("national_reference", String(100), nullable=False),
    Column("version", String(80), nullable=False),  # created|message id of the version applied
    Column("message_id", String(36), nullable=False),  # the message that brought that version
    Column("withdrawn", Boolean, nullable=False),
    Column("review_date", String(10), nullable=False),
    Column("record", Text),  # the person.alert body as JSON; NULL for a tombstone
    Index("ux_person_alerts_key", "issuer", "national_reference", unique=True),
    Index("ix_person_alerts_review", "review_date"),
)
# One row per (block pair, birth date as the alert gives it, alert): the check's index. WITHOUT ROWID:
# the key is the table.
person_alert_keys = Table(
    "person_alert_keys", metadata,
    Column("key", String(16), primary_key=True),
    Column("birth_date", String(10), primary_key=True),  # YYYY, YYYY-MM, YYYY-MM-DD or ''
    Column("alert_id", Integer, primary_key=True),
    Index("ix_person_alert_keys_alert", "alert_id"),
    sqlite_with_rowid=False,
)
# Every stored message that carried a version of a received alert: a withdrawal erases them all.
person_alert_messages = Table(
    "person_alert_messages", metadata,
    Column("issuer", String(3), primary_key=True),
    Column("national_reference", String(100), primary_key=True),
    Column("message_id", String(36), primary_key=True),
)
# Hits other countries reported on this country's person alerts.
person_hits = Table(
    "person_hits", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("checking_country", String(3), nullable=False),
    Column("national_reference", String(100), nullable=False),
    Column("checked_at", String(32), nullable=False),
    Column("check_kind", String(16), nullable=False),
    Column("point", String(120), nullable=False),
    Column("score", Integer, nullable=False),
    Column("date_of_birth", String(16), nullable=False),
    Column("received_at", String(32), nullable=False),
    Index("ix_person_hits_received", "received_at"),
)
# The alerts this country issued: where a withdrawal goes.
issued_person_alerts = Table(
    "issued_person_alerts", metadata,
    Column("national_reference", String(100), primary_key=True),
    Column("recipients", Text, nullable=False),  # JSON: "all" or a list
    Column("message_id", String(36), nullable=False),
    Column("review_date", String(10), nullable=False),
    Column("withdrawn", Boolean, nullable=False),
)
# Every border check that touched person data: who, when, where, which alerts came back. Nothing
# about the traveller: the log says that a check happened and what it found.
person_check_log = Table(
    "person_check_log", metadata,
    Column("reference", String(40), primary_key=True),  # what a carrier quotes when it calls
    Column("at", String(32), nullable=False),
    Column("who", String(200), nullable=False),
    Column("check_kind", String(16), nullable=False),
    Column("point", String(120), nullable=False),
    Column("person_matches", Text, nullable=False),  # JSON: [[issuer, national_reference, score], ...]
    Column("document_hit", Boolean, nullable=False),
    Index("ix_person_check_log_at", "at"),
)

# The hit reports of a border check that found something, held from the check's own transaction
# until the reporter has built, signed and queued them (docs/person-alerts.md, "Hit reports"): the
# answer waits for this row, not for the signing and the outbox. A row lives milliseconds; one a
# crash left is sent at the next start. The message id is assigned at the check (the answer names
# it); the body says nothing about the traveller.
held_hit_reports = Table(
    "held_hit_reports", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("type", String(32), nullable=False),  # person.hit or alert.hit
    Column("recipient", String(3), nullable=False),  # the matched alert's issuer
    Column("body", Text, nullable=False),  # JSON, as built at the check
    sqlite_with_rowid=False,
)


def birth_date_probes(date_of_birth: str | None) -> tuple[list[str], str | None] | None:
    """Which alert birth dates can agree with a traveller's (names.date_of_birth_agreement: the
    dates compared at the precision both have; a contradiction is never a match): the exact values
    to read, and a prefix whose longer dates also agree. None: no birth date, every date agrees."""
    if not date_of_birth:
        return None
    parts = [date_of_birth[:n] for n in (10, 7, 4) if n <= len(date_of_birth)]
    exact = [*parts, UNKNOWN_DATE]
    return exact, (None if len(date_of_birth) == 10 else f"{date_of_birth}-")


@lru_cache(maxsize=65536)
def _cached_subject_name(message_id: str, record_json: str) -> PersonName:
    return subject_name(json.loads(record_json))


def candidate_name(message_id: str, record_json: str) -> PersonName:
    """`subject_name` of a replica entry, kept for the entries checks meet often (a version's
    record never changes: its message id names it)."""
    return _cached_subject_name(message_id, record_json)


def subject_name(record: Mapping[str, Any]) -> PersonName:
    """The alert's subject as a name to compare: every reading of the name as written (family name
    first) and of its MRZ Latin form, with the birth date."""
    subject = record["subject"]
    parts = [subject["family_name"], *([subject["given_names"]] if "given_names" in subject else [])]
    written = " ".join(p["text"] for p in parts)
    language = subject["family_name"].get("language")
    latin = " ".join(p["latin"] for p in parts)
    forms = distinct_forms([*latin_forms(written, language), *latin_forms(latin)])
    return PersonName(written, language, subject.get("date_of_birth"), tuple(forms))


# -- effects ------------------------------------------------------------------------------------------

def version_of(created: str, message_id: str) -> str:
    return f"{created}|{message_id}"


def apply_alert(conn: Connection, body: Mapping[str, Any], *, created: str, message_id: str) -> bool:
    """Merge one version into the replica; False if a newer version is there already.

    A withdrawal also erases the stored messages that carried the alert's versions (they hold the
    person data; the withdrawal itself holds none), and a version arriving after the withdrawal is
    erased at once: a withdrawn alert leaves no person data at the recipients. The caller's
    transaction is marked so that the data also leaves SQLite's write-ahead log."""
    version = version_of(created, message_id)
    key = (body["issuer"], body["national_reference"])
    withdrawn = body["action"] == "withdraw"
    row = conn.execute(select(person_alerts.c.id, person_alerts.c.version, person_alerts.c.withdrawn).where(
        person_alerts.c.issuer == key[0], person_alerts.c.national_reference == key[1])).first()
    if not withdrawn:
        conn.execute(insert(person_alert_messages).values(issuer=key[0], national_reference=key[1],
                                                          message_id=message_id))
    if row is not None and row.version >= version:
        if row.withdrawn:  # a version older than the withdrawal: not kept
            _erase_carriers(conn, key)
        return False
    values = {"version": version, "message_id": message_id, "withdrawn": withdrawn,
              # the review date, bounded from the message's own date; a tombstone stays as long as the
              # newest version it overtook could have
              "review_date": person_alert_kept_until(created, body),
              "record": None if withdrawn else json.dumps(body, ensure_ascii=False, sort_keys=True)}
    if row is None:
        alert_id = conn.execute(insert(person_alerts).values(issuer=key[0], national_reference=key[1], **values)
                                ).inserted_primary_key[0]
    else:
        alert_id = row.id
        conn.execute(update(person_alerts).where(person_alerts.c.id == alert_id).values(**values))
        conn.execute(delete(person_alert_keys).where(person_alert_keys.c.alert_id == alert_id))
    if withdrawn:
        _erase_carriers(conn, key)
    else:
        born = body["subject"].get("date_of_birth") or UNKNOWN_DATE
        conn.execute(insert(person_alert_keys),
                     [{"key": k, "birth_date": born, "alert_id": alert_id} for k in index_keys(subject_name(body))])
    return True


def _erase_carriers(conn: Connection, key: tuple[str, str]) -> None:
    where = (person_alert_messages.c.issuer == key[0]) & (person_alert_messages.c.national_reference == key[1])
    carried = list(conn.execute(select(person_alert_messages.c.message_id).where(where)).scalars())
    if carried:
        conn.execute(delete(stored_messages).where(stored_messages.c.message_id.in_(carried)))
        conn.execute(delete(person_alert_messages).where(where))
        mark_personal_data_deleted(conn)


def record_hit(conn: Connection, body: Mapping[str, Any], *, message_id: str, sender: str, received_at: str) -> None:
    conn.execute(insert(person_hits), {
        "message_id": message_id, "checking_country": sender, "national_reference": body["national_reference"],
        "checked_at": body["checked_at"], "check_kind": body["check"], "point": body["point"],
        "score": body["score"], "date_of_birth": body["date_of_birth"], "received_at": received_at})


def record_issued(conn: Connection, body: Mapping[str, Any], message_id: str) -> None:
    """The issuer's own record of what it sent, for withdrawals and the console."""
    ref = body["national_reference"]
    values = {"message_id": message_id, "withdrawn": body["action"] == "withdraw"}
    if body["action"] != "withdraw":
        values |= {"recipients": json.dumps(body["recipients"]), "review_date": review_date(body)}
    exists = conn.execute(select(issued_person_alerts.c.national_reference)
                          .where(issued_person_alerts.c.national_reference == ref)).first()
    if exists:
        conn.execute(update(issued_person_alerts).where(issued_person_alerts.c.national_reference == ref)
                     .values(**values))
    elif body["action"] != "withdraw":
        conn.execute(insert(issued_person_alerts).values(national_reference=ref, **values))


def issued(engine: Engine, national_reference: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(issued_person_alerts)
                           .where(issued_person_alerts.c.national_reference == national_reference)).first()
    return None if row is None else {**row._mapping, "recipients": json.loads(row.recipients)}


# -- the check's search -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Candidate:
    alert_id: int
    message_id: str
    record_json: str

    @property
    def record(self) -> Mapping[str, Any]:
        return json.loads(self.record_json)

    @property
    def name(self) -> PersonName:
        return candidate_name(self.message_id, self.record_json)


class CandidateReader:
    """The replica's candidates for a name: one indexed SELECT on a connection of its own (a check
    is a few index probes, cheaper than a thread hop), then the records of the best few."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self._raw = engine.raw_connection()
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._ends_transaction = engine.dialect.name != "sqlite"
        self.limit = limit

    def candidates(self, keys: Iterable[str], date_of_birth: str | None,
                   today: str) -> tuple[list[Candidate], bool]:
        """Alerts filed under any of `keys` with a birth date that can agree with `date_of_birth`,
        in force on `today`, most shared keys first; True if there were more than the limit."""
        keys = sorted(keys)
        if not keys:
            return [], False
        m = self._mark
        by_key = f"SELECT alert_id FROM person_alert_keys WHERE key IN ({', '.join([m] * len(keys))})"
        probes = birth_date_probes(date_of_birth)
        if probes is None:
            sql, params = by_key, list(keys)
        else:
            exact, prefix = probes
            sql = f"{by_key} AND birth_date IN ({', '.join([m] * len(exact))})"
            params = [*keys, *exact]
            if prefix is not None:  # one indexed range more: the longer dates within the traveller's
                sql += f" UNION ALL {by_key} AND birth_date > {m} AND birth_date < {m}"
                params += [*keys, prefix, f"{prefix}~"]
        sql = f"SELECT alert_id FROM ({sql}) AS probes"
        cursor = self._raw.cursor()
        try:
            cursor.execute(f"{sql} GROUP BY alert_id ORDER BY COUNT(*) DESC, alert_id LIMIT {m}",
                           (*params, self.limit + 1))
            ids = [r[0] for r in cursor.fetchall()]
            more = len(ids) > self.limit
            rows = []
            if ids:
                ids = ids[:self.limit]
                cursor.execute(f"SELECT id, message_id, record FROM person_alerts WHERE id IN "
                               f"({', '.join([m] * len(ids))}) AND review_date >= {m} AND record IS NOT NULL",
                               (*ids, today))
                rows = cursor.fetchall()
        finally:
            cursor.close()
            if self._ends_transaction:
                self._raw.rollback()
        return [Candidate(r[0], r[1], r[2]) for r in rows], more

    def close(self) -> None:
        self._raw.close()


# -- retention ----------------------------------------------------------------------------------------

def purge_expired(engine: Engine, today: str) -> int:
    """Alerts and tombstones past their review date leave the replica, with their index entries."""
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(select(person_alerts.c.id).where(person_alerts.c.review_date < today))]
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            conn.execute(delete(person_alert_keys).where(person_alert_keys.c.alert_id.in_(chunk)))
            conn.execute(delete(person_alerts).where(person_alerts.c.id.in_(chunk)))
        conn.execute(delete(person_alert_messages).where(~select(person_alerts.c.id).where(
            (person_alerts.c.issuer == person_alert_messages.c.issuer)
            & (person_alerts.c.national_reference == person_alert_messages.c.national_reference)).exists()))
    return len(ids)


def purge_hits_and_checks(engine: Engine, before: str) -> dict[str, int]:
    with engine.begin() as conn:
        hits = conn.execute(delete(person_hits).where(person_hits.c.received_at < before)).rowcount
        checks = conn.execute(delete(person_check_log).where(person_check_log.c.at < before)).rowcount
    return {"person_hits": hits, "person_checks": checks}


def _check_row(reference: str, at: str, who: str, check: str, point: str,
               matches: Sequence[tuple[str, str, int]], document_hit: bool) -> dict[str, Any]:
    return {"reference": reference, "at": at, "who": who[:200], "check_kind": check, "point": point,
            "person_matches": json.dumps([list(m) for m in matches]), "document_hit": document_hit}


def log_check(conn: Connection, *, reference: str, at: str, who: str, check: str, point: str,
              matches: Sequence[tuple[str, str, int]], document_hit: bool) -> None:
    """A check in the access log, in the caller's transaction (with what it sends and journals)."""
    insert_rows(conn, person_check_log, [_check_row(reference, at, who, check, point, matches, document_hit)])



@dataclass(frozen=True)
class HeldReport:
    message_id: str
    type: str
    recipient: str
    body: Mapping[str, Any]


def hold_reports(conn: Connection, reports: Sequence[HeldReport]) -> None:
    """Hit reports held in the caller's transaction (the check's), for the reporter to send."""
    insert_rows(conn, held_hit_reports, [{"message_id": r.message_id, "type": r.type, "recipient": r.recipient,
                                          "body": json.dumps(r.body, sort_keys=True)} for r in reports])


def held_reports(engine: Engine) -> list[HeldReport]:
    """Every held report, oldest first (those a stop or a crash left; an unreadable body as None)."""
    with engine.connect() as conn:
        rows = conn.execute(select(held_hit_reports).order_by(held_hit_reports.c.message_id)).all()
    return [HeldReport(r.message_id, r.type, r.recipient, _json_or_none(r.body)) for r in rows]


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def release_reports(conn: Connection, message_ids: Sequence[str]) -> None:
    """Held reports done with (queued in the outbox, or not sendable), in the queuing transaction."""
    conn.execute(_RELEASE, [{"m": m} for m in message_ids])


_RELEASE = delete(held_hit_reports).where(held_hit_reports.c.message_id == bindparam("m"))


def private_connection(engine: Engine, synchronous: str | None = None) -> Connection:
    """A connection of the check's own, out of the pool for good (its settings never reach another
    user of the pool; closing it closes it), with automatic checkpoints off (WalCheckpoints) and,
    if given, its own `synchronous` level."""
    conn = engine.connect()
    conn.detach()
    raw = conn.connection.dbapi_connection
    WalCheckpoints.no_automatic_checkpoints(raw)
    if synchronous is not None:
        cursor = raw.cursor()
        try:
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()
    return conn


class QuietCheckLog:
    """The access-log entry of a check that found nothing, on SQLite: a connection of its own with
    `synchronous=NORMAL`, so the entry is committed (it survives a crash of the node's process)
    without waiting for an fsync of its own; the write-ahead log reaches the disk at the next
    checkpoint or FULL commit. Only a power loss in between can lose such entries; a check that
    finds something is logged with full durability together with its hit reports (check.py)."""

    _COLUMNS = ("reference", "at", "who", "check_kind", "point", "person_matches", "document_hit")

    def __init__(self, engine: Engine, checkpoints: WalCheckpoints) -> None:
        self._raw = engine.raw_connection()
        self._raw.detach()  # its synchronous=NORMAL must never reach another user of the pool
        cursor = self._raw.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        checkpoints.no_automatic_checkpoints(self._raw)
        self._checkpoints = checkpoints
        self._sql = (f"INSERT INTO person_check_log ({', '.join(self._COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(self._COLUMNS))})")

    def write(self, *, reference: str, at: str, who: str, check: str, point: str) -> None:
        row = _check_row(reference, at, who, check, point, (), False)
        with self._checkpoints.turn:
            cursor = self._raw.cursor()
            try:
                cursor.execute(self._sql, tuple(row[c] for c in self._COLUMNS))
                self._raw.commit()
            finally:
                cursor.close()
        self._checkpoints.committed()

    def close(self) -> None:
        self._raw.close()


class WalCheckpoints:
    """SQLite: the write-ahead log copied back into the database by a thread of its own, not by
    whichever commit crosses SQLite's automatic threshold (1000 pages). That commit would pay for
    the copy and the database file's fsync (milliseconds over a large replica) before its check
    could answer: the border check's connections turn their automatic checkpoints off
    (`no_automatic_checkpoints`), write each transaction holding `turn`, and call `committed` after
    it; every `every` commits a PASSIVE checkpoint runs in the background (one at a time).
    Durability is the commit's (synchronous=FULL), not the checkpoint's: a crash at any point loses
    nothing committed. The node's other connections keep their automatic checkpoints.

    The log is also **restarted**: SQLite writes a new transaction at the log's start only if the
    log was wholly copied when that transaction began; otherwise the file grows, and an fdatasync
    of a grown file commits the file system's metadata too (ext4 here: a hit's commit 0.64 against
    0.34-0.42 ms at the median). Checks commit while the copy runs, so it never ended wholly
    copied: the checkpoint copies the bulk beside them, then the frames written meanwhile holding
    `turn`, between two transactions (a check may wait for that short copy)."""

    def __init__(self, engine: Engine, every: int = 256) -> None:
        self._engine, self._every, self._count = engine, every, 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="person-wal-checkpoint")
        self._running: Future | None = None
        self.turn = threading.Lock()  # held by the check's writers around a transaction, and by the last copy

    @staticmethod
    def no_automatic_checkpoints(dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()

    def committed(self) -> None:
        self._count += 1
        if self._count >= self._every and (self._running is None or self._running.done()):
            self._count = 0
            self._running = self._pool.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        with self._engine.connect() as conn:  # a pooled connection, for the checkpoint's time only
            for _ in range(2):  # the bulk, then what was committed while it was copied
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            with self.turn:  # the few frames of the last moments: the next transaction restarts the log
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def check_entry(engine: Engine, reference: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(person_check_log).where(person_check_log.c.reference == reference)).first()
    return None if row is None else {**row._mapping, "person_matches": json.loads(row.person_matches)}


def received_hits(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(person_hits).order_by(person_hits.c.received_at.desc()).limit(limit))]


def replica_count(engine: Engine, today: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(person_alerts).where(
            person_alerts.c.withdrawn.is_(False), person_alerts.c.review_date >= today)).scalar_one()
