"""Case information at a national node: its tables, the inbox effects of the `case.*` messages,
sharing (with the handling-code rules), joint investigation threads, retention purge, the access
log, search and the statistics of paragraph 17. The rules themselves are in protocol/cases.py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import (
    Column, Connection, Engine, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, delete, func, insert, select,
    update,
)

from crypto.errors import CryptoError
from crypto.signing import VerifiedEnvelope, verify_envelope
from nodes.national import reads
from nodes.national.store import messages as message_table
from nodes.national.store import delete_outbox, mark_personal_data_deleted, record_refusal, take_deletion_mark
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.db import erase_freed
from protocol import cases as rules
from protocol import envelope as wire
from protocol import retention
from protocol.alerts import normalise_document_number
from protocol.errors import DecodeError, PolicyError, ProtocolError
from protocol.timefmt import format_time, parse_time

if TYPE_CHECKING:
    from nodes.national.feature import FeatureContext

log = structlog.get_logger("somex.cases")

metadata = MetaData()
cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(3), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("held_from", String(3), nullable=False),  # who sent us this copy; ourselves for our own cases
    Column("message_id", String(36)),  # the share this copy came in
    Column("thread", String(128)),
    Column("handling", Text),  # the envelope's handling (JSON), authoritative; None for our own cases
    Column("retention_until", String(32), index=True),
    Column("data", Text, nullable=False),  # the case (JSON), personal data included
    Column("provenance", Text),  # JSON, for a copy received through an onward share
    Column("stored_at", String(32), nullable=False),
    UniqueConstraint("provider", "reference", "held_from"),
)
persons = Table(
    "case_persons", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False, index=True),
    Column("position", Integer, nullable=False),  # index in the case's persons list
    Column("date_of_birth", String(10), index=True),
)
name_tokens = Table(
    "case_name_tokens", metadata,
    Column("case_id", Integer, nullable=False, index=True),
    Column("person_id", Integer, nullable=False),
    Column("name_no", Integer, nullable=False),  # 0: the name, 1..: aliases
    Column("token", String(100), nullable=False),
    Index("ix_case_name_tokens_lookup", "token", "person_id", "name_no"),  # covers the search query
)
documents = Table(
    "case_documents", metadata,
    Column("case_id", Integer, nullable=False, index=True),
    Column("person_id", Integer, nullable=False),
    Column("number_key", String(64), nullable=False, index=True),
)
vessels = Table(
    "case_vessels", metadata,
    Column("case_id", Integer, nullable=False, index=True),
    Column("position", Integer, nullable=False),  # index in the case's events list
    Column("name_key", String(200), index=True),
    Column("imo", String(7), index=True),
)
carriers = Table(  # messages whose sealed payload holds a copy of a received case: purged with it
    "case_carriers", metadata,
    Column("case_id", Integer, nullable=False, index=True),
    Column("message_id", String(36), nullable=False),
)
shares_out = Table(
    "case_shares_out", metadata,
    Column("case_id", Integer, nullable=False, index=True),
    Column("recipient", String(3), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("at", String(32), nullable=False),
)
permissions = Table(
    "case_permissions", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("provider", String(3), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("targets", Text, nullable=False),  # JSON list of countries
    Column("raw", Text, nullable=False),  # the signed envelope, forwarded with onward shares
    Column("at", String(32), nullable=False),
)
access_log = Table(
    "case_access_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("who", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("case_id", Integer, nullable=False),
    Column("provider", String(3), nullable=False),
    Column("reference", String(100), nullable=False),
)
purges = Table(
    "case_purges", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("reason", String(32), nullable=False),  # "retention" or "withdrawn"
    Column("case_id", Integer, nullable=False),
    Column("provider", String(3), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("message_id", String(36)),  # the case.withdraw that caused it
)
jits = Table(
    "case_jits", metadata,
    Column("thread", String(128), primary_key=True),
    Column("opener", String(3), nullable=False),
    Column("members", Text, nullable=False),  # JSON list
    Column("title", String(200)),
    Column("reference", String(100)),
    Column("opened_at", String(32), nullable=False),
)
jit_messages = Table(
    "case_jit_messages", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("thread", String(128), nullable=False, index=True),
    Column("sender", String(3), nullable=False),
    Column("text", Text, nullable=False),
    Column("created", String(32), nullable=False),
)
PERSONAL_TABLES = (persons, name_tokens, documents, vessels)


class CaseError(ProtocolError):
    """A focal point's case action that cannot be done; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, detail: str, status: int = 400) -> None:
        super().__init__(reason, detail)
        self.status = status


# -- inbox effects (inside the storing transaction) -----------------------------------------------

def _refuse(conn: Connection, env: wire.Envelope, exc: ProtocolError) -> None:
    record_refusal(conn, env.id, env.sender, exc.reason, str(exc), format_time(utcnow()))
    log.warning("case message refused", message_id=env.id, thread=env.thread, reason=exc.reason)


def on_share(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
              body: Mapping[str, Any] | None) -> None:
    env = verified.envelope
    assert body is not None
    case = {k: v for k, v in body.items() if k != "provenance"}
    provenance = body.get("provenance")
    try:
        if provenance is not None and env.handling["code"] == "H2":
            _check_forwarded_permissions(ctx, provenance, env.sender)
        _check_thread(conn, env)
    except (PolicyError, DecodeError, CryptoError) as exc:
        _refuse(conn, env, exc)
        return
    provider = provenance["provider"] if provenance else env.sender
    until = format_time(rules.retention_until(parse_time(env.created), env.handling["retention_days"]))
    values = {"message_id": env.id, "thread": env.thread, "handling": json.dumps(dict(env.handling)),
              "retention_until": until, "data": json.dumps(case), "stored_at": format_time(utcnow()),
              "provenance": json.dumps(provenance) if provenance else None}
    key = (cases.c.provider == provider) & (cases.c.reference == case["reference"]) & (cases.c.held_from == env.sender)
    case_id = conn.execute(select(cases.c.id).where(key)).scalar()
    if case_id is None:
        case_id = conn.execute(insert(cases).values(provider=provider, reference=case["reference"],
                                                    held_from=env.sender, **values)).inserted_primary_key[0]
    else:  # a newer version of the case from the same sender replaces the older one
        conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
        _unindex(conn, case_id)
    _index(conn, case_id, case)
    _carry(conn, case_id, env.id)


def _carry(conn: Connection, case_id: int, message_id: str) -> None:
    """A stored message that holds a copy of a received case: kept as long as that copy and deleted
    with it (_delete_case), not by its class's retention day."""
    conn.execute(insert(carriers), {"case_id": case_id, "message_id": message_id})
    conn.execute(update(message_table).where(message_table.c.message_id == message_id).values(retain_until=None))


def _check_forwarded_permissions(ctx: FeatureContext, provenance: Mapping[str, Any], resharer: str) -> None:
    """An H2 case passed on by `resharer`: one of the forwarded permissions must be the provider's, for us."""
    last: ProtocolError = PolicyError("onward_transfer_not_permitted",
                                      f"an H2 case passed on by {resharer} without the provider's permission")
    for raw in provenance.get("permissions", ()):
        try:
            permission = wire.decode(raw.encode("utf-8"))
            verify_envelope(permission, ctx.federation.trust, utcnow())
            rules.check_forwarded_permission(permission, wire.decode_body(permission), provenance, resharer,
                                             ctx.country)
            return
        except (DecodeError, PolicyError, CryptoError) as exc:
            last = PolicyError("onward_transfer_not_permitted", f"forwarded permission refused: {exc}")
    raise last


def _check_thread(conn: Connection, env: wire.Envelope) -> None:
    members = _jit_members(conn, env.thread)
    if members is not None:
        rules.check_jit_message(members, env.sender, env.recipients)


def on_withdraw(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                 body: Mapping[str, Any] | None) -> list[wire.Envelope]:
    """Delete every copy this sender gave us; pass the withdrawal on to whom we passed the case."""
    env = verified.envelope
    assert body is not None
    rows = conn.execute(select(cases).where((cases.c.provider == body["provider"])
                                            & (cases.c.reference == body["reference"])
                                            & (cases.c.held_from == env.sender))).all()
    onward: list[wire.Envelope] = []
    for row in rows:
        recipients = _recipients_of(conn, row.id)
        if recipients:
            onward.append(ctx.build_sealed("case.withdraw", recipients, dict(body), thread=_case_thread(row),
                                            header={"reference": row.reference}))
        _delete_case(conn, row, "withdrawn", env.id)
    return onward


def on_permission(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                   body: Mapping[str, Any] | None) -> None:
    env = verified.envelope
    assert body is not None
    conn.execute(insert(permissions), {"message_id": env.id, "provider": env.sender, "reference": body["reference"],
                                       "targets": json.dumps(body["to"]), "at": format_time(utcnow()),
                                       "raw": wire.encode(env).decode("utf-8")})


def on_jit(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any] | None) -> None:
    env = verified.envelope
    assert body is not None
    try:
        rules.check_jit_opening(env)  # again here: the node does not rely on the hub for it
        if _jit_members(conn, env.thread) is not None:
            raise PolicyError("jit_exists", f"thread {env.thread} is already a joint investigation")
        rules.check_jit_message(body["members"], env.sender, env.recipients)
    except PolicyError as exc:
        _refuse(conn, env, exc)
        return
    _record_jit(conn, env.thread, env.sender, body)


def on_jit_message(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                    body: Mapping[str, Any] | None) -> None:
    env = verified.envelope
    assert body is not None
    try:
        members = _jit_members(conn, env.thread)
        if members is None:
            raise PolicyError("not_a_jit_member", f"no joint investigation {env.thread} here")
        rules.check_jit_message(members, env.sender, env.recipients)
    except PolicyError as exc:
        _refuse(conn, env, exc)
        return
    conn.execute(insert(jit_messages), {"message_id": env.id, "thread": env.thread, "sender": env.sender,
                                        "text": body["text"], "created": env.created})


# -- indexes and deletion ----------------------------------------------------------------------------

def _index(conn: Connection, case_id: int, case: Mapping[str, Any]) -> None:
    for position, person in enumerate(case.get("persons", ())):
        person_id = conn.execute(insert(persons).values(
            case_id=case_id, position=position, date_of_birth=person.get("date_of_birth"))).inserted_primary_key[0]
        tokens = [{"case_id": case_id, "person_id": person_id, "name_no": n, "token": t}
                  for n, name in enumerate([person["name"], *person.get("aliases", ())])
                  for t in rules.name_tokens(name)]
        if tokens:
            conn.execute(insert(name_tokens), tokens)
        docs = [{"case_id": case_id, "person_id": person_id, "number_key": normalise_document_number(d["number"])}
                for d in person.get("documents", ())]
        if docs:
            conn.execute(insert(documents), docs)
    ships = [{"case_id": case_id, "position": position, "name_key": rules.fold_name(sea.get("vessel_name", "")) or None,
              "imo": sea.get("imo")}
             for position, event in enumerate(case.get("events", ())) if (sea := event.get("maritime"))]
    if ships:
        conn.execute(insert(vessels), ships)


def _unindex(conn: Connection, case_id: int) -> None:
    for table in PERSONAL_TABLES:
        conn.execute(delete(table).where(table.c.case_id == case_id))


def _recipients_of(conn: Connection, case_id: int) -> list[str]:
    return sorted(set(conn.execute(select(shares_out.c.recipient).where(shares_out.c.case_id == case_id)).scalars()))


def _delete_case(conn: Connection, row: Any, reason: str, message_id: str | None) -> None:
    """Delete a held copy with everything that could restore it (the sealed messages it came and
    went in: this node could open them), and journal the deletion without personal data."""
    mark_personal_data_deleted(conn)  # erased from the write-ahead log once this commits
    _unindex(conn, row.id)
    carried = list(conn.execute(select(carriers.c.message_id).where(carriers.c.case_id == row.id)).scalars())
    if carried:
        conn.execute(delete(message_table).where(message_table.c.message_id.in_(carried)))
        delete_outbox(conn, carried)
    for table in (carriers, shares_out):
        conn.execute(delete(table).where(table.c.case_id == row.id))
    if row.held_from == row.provider:
        # The provider's permissions go with the provider's copy only: a re-sharer withdrawing its
        # own copy (or that copy's retention running out) must not void what the provider granted us.
        conn.execute(delete(permissions).where((permissions.c.provider == row.provider)
                                               & (permissions.c.reference == row.reference)))
    conn.execute(delete(cases).where(cases.c.id == row.id))
    conn.execute(insert(purges), {"at": format_time(utcnow()), "reason": reason, "case_id": row.id,
                                  "provider": row.provider, "reference": row.reference, "message_id": message_id})
    log.info("case data deleted", case_id=row.id, provider=row.provider, reference=row.reference, reason=reason,
             message_id=message_id, thread=row.thread)


def purge_expired(ctx: FeatureContext, now: datetime) -> int:
    """Delete every held copy past its retention date; the number deleted."""
    with ctx.db.begin() as conn:
        rows = conn.execute(select(cases).where(cases.c.retention_until.is_not(None)
                                                & (cases.c.retention_until <= format_time(now)))).all()
        for row in rows:
            _delete_case(conn, row, "retention", None)
        take_deletion_mark(conn)  # erased here, below
    erase_freed(ctx.db)
    return len(rows)


def purge(ctx: FeatureContext, now: datetime) -> dict[str, int]:
    """The feature's part of the node's retention sweep: held cases past their retention, and
    investigation messages past their class maximum."""
    return {"cases": purge_expired(ctx, now),
            "investigation_messages": purge_jit_messages(
                ctx.db, now - timedelta(days=retention.MAXIMUM_DAYS["case.message"]))}


def on_opened(ctx: FeatureContext, conn: Connection, env: wire.Envelope, body: Mapping[str, Any], direction: str,
              who: str) -> None:
    """The read path opened a `case.share`: an access to the case it carries."""
    log_message_read(conn, env.id, who, body, env.sender)


def purge_jit_messages(engine: Engine, before: datetime) -> int:
    """Joint-investigation messages (free text naming persons) older than their retention; the
    caller erases (nodes/national/retention.py)."""
    with engine.begin() as conn:
        return conn.execute(delete(jit_messages).where(jit_messages.c.created < format_time(before))).rowcount


# -- joint investigation threads ---------------------------------------------------------------------

def _jit_members(conn: Connection, thread: str | None) -> list[str] | None:
    if thread is None:
        return None
    members = conn.execute(select(jits.c.members).where(jits.c.thread == thread)).scalar()
    return json.loads(members) if members is not None else None


def _record_jit(conn: Connection, thread: str, opener: str, body: Mapping[str, Any]) -> None:
    conn.execute(insert(jits), {"thread": thread, "opener": opener, "members": json.dumps(sorted(body["members"])),
                                "title": body.get("title"), "reference": body.get("reference"),
                                "opened_at": format_time(utcnow())})


def open_jit(ctx: FeatureContext, members: Sequence[str], title: str | None = None,
             reference: str | None = None) -> tuple[str, wire.Envelope]:
    """Open a joint investigation among `members` (this node among them): its thread and the opening message."""
    _check_members(ctx, members)
    members = sorted(set(members) | {ctx.country})
    body: dict[str, Any] = {"members": members}
    if title:
        body["title"] = title
    if reference:
        body["reference"] = reference
    message_id = new_message_id()
    thread = rules.jit_thread(message_id)
    env = ctx.build_sealed("case.jit", rules.jit_recipients(members, ctx.country), body, thread=thread,
                            message_id=message_id)
    with ctx.db.begin() as conn:
        _record_jit(conn, thread, ctx.country, body)
        ctx.enqueue([env], conn)
    return thread, env


def send_jit_message(ctx: FeatureContext, thread: str, text: str) -> wire.Envelope:
    with ctx.db.begin() as conn:
        members = _jit_members(conn, thread)
        if members is None:
            raise CaseError("not_found", f"no joint investigation {thread[:128]}", 404)
        env = ctx.build_sealed("case.message", rules.jit_recipients(members, ctx.country), {"text": text},
                                thread=thread)
        conn.execute(insert(jit_messages), {"message_id": env.id, "thread": thread, "sender": ctx.country,
                                            "text": text, "created": env.created})
        ctx.enqueue([env], conn)
    return env


def list_jits(ctx: FeatureContext) -> list[dict[str, Any]]:
    """The joint investigations this node is a member of, newest first, with their message counts."""
    counts = select(jit_messages.c.thread, func.count().label("n")).group_by(jit_messages.c.thread).subquery()
    with ctx.db.connect() as conn:
        rows = conn.execute(select(jits, counts.c.n).outerjoin(counts, counts.c.thread == jits.c.thread)
                            .order_by(jits.c.opened_at.desc(), jits.c.thread)).all()
    return [{"thread": r.thread, "opener": r.opener, "members": json.loads(r.members), "title": r.title,
             "reference": r.reference, "opened_at": r.opened_at, "messages": r.n or 0} for r in rows]


def jit_view(ctx: FeatureContext, thread: str, who: str) -> dict[str, Any]:
    """Members, messages (this node's own included) and the cases shared in it (no personal data).
    The members' messages are sealed bodies: showing them to `who` is journaled (nodes/national/reads.py)."""
    with ctx.db.begin() as conn:
        row = conn.execute(select(jits).where(jits.c.thread == thread)).first()
        if row is None:
            raise CaseError("not_found", f"no joint investigation {thread[:128]}", 404)
        texts = conn.execute(select(jit_messages).where(jit_messages.c.thread == thread)
                             .order_by(jit_messages.c.created, jit_messages.c.message_id)).all()
        reads.journal(conn, who, "read", [(m.message_id, "case.message", m.sender, thread)
                                          for m in texts if m.sender != ctx.country])
        received = conn.execute(select(cases).where(cases.c.thread == thread).order_by(cases.c.id)).all()
        sent = conn.execute(select(cases, message_table.c.raw).distinct()
                            .join(shares_out, shares_out.c.case_id == cases.c.id)
                            .join(message_table, message_table.c.message_id == shares_out.c.message_id)
                            .where(message_table.c.thread == thread).order_by(cases.c.id)).all()
    shared = [_summary(c) for c in received]
    for c in sent:  # our own shares into the thread: the handling is the one we gave them
        handling = dict(wire.decode(c.raw).handling)
        shared.append({**_summary(c), "handling": handling, "notices": rules.handling_notices(handling),
                       "usable_in_judicial_proceedings": rules.usable_in_judicial_proceedings(handling)})
    return {"thread": row.thread, "opener": row.opener, "members": json.loads(row.members), "title": row.title,
            "reference": row.reference, "messages": [{"id": m.message_id, "sender": m.sender, "text": m.text,
                                                      "created": m.created} for m in texts],
            "cases": shared}


# -- a focal point's case actions ----------------------------------------------------------------------

def _check_members(ctx: FeatureContext, countries: Sequence[str]) -> None:
    """Refuse a country outside the federation before sealing to it (it has no key to seal to)."""
    unknown = sorted(set(countries) - set(ctx.federation.directory.node_ids()))
    if unknown:
        raise CaseError("unknown_recipient", f"not members of the federation: {unknown}")


def _case_thread(row: Any) -> str:
    """The thread of a case's own traffic; never a joint investigation's, whose members must see all of it."""
    return f"case:{row.provider}:{row.reference}"


def _case_row(conn: Connection, case_id: int) -> Any:
    row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise CaseError("not_found", f"no case {case_id}", 404)
    return row


def create_case(ctx: FeatureContext, case: Mapping[str, Any]) -> int:
    rules.CASE.check(case, "$", "bad_body")
    with ctx.db.begin() as conn:
        if conn.execute(select(cases.c.id).where((cases.c.provider == ctx.country)
                                                 & (cases.c.reference == case["reference"])
                                                 & (cases.c.held_from == ctx.country))).first():
            raise CaseError("case_exists", f"case {case['reference']} exists already", 409)
        case_id = conn.execute(insert(cases).values(
            provider=ctx.country, reference=case["reference"], held_from=ctx.country, data=json.dumps(case),
            stored_at=format_time(utcnow()))).inserted_primary_key[0]
        _index(conn, case_id, case)
    return case_id


def add_information(ctx: FeatureContext, case_id: int, addition: Mapping[str, Any]) -> dict[str, Any]:
    rules.ADDITION.check(addition, "$", "bad_body")
    with ctx.db.begin() as conn:
        row = _case_row(conn, case_id)
        if row.provider != ctx.country:
            raise CaseError("not_own_case", "information is added by the case's provider; ask it to share an update", 409)
        merged = rules.add_information(json.loads(row.data), addition)
        conn.execute(update(cases).where(cases.c.id == case_id).values(data=json.dumps(merged)))
        _unindex(conn, case_id)
        _index(conn, case_id, merged)
    return merged


def share_case(ctx: FeatureContext, case_id: int, to: Sequence[str] | None, handling: Mapping[str, Any] | None,
               jit: str | None = None) -> wire.Envelope:
    """Share our own case, or pass on (onward transfer) a case we received, under its handling code."""
    with ctx.db.begin() as conn:
        row = _case_row(conn, case_id)
        thread = _case_thread(row)
        if jit is not None:
            members = _jit_members(conn, jit)
            if members is None:
                raise CaseError("not_found", f"no joint investigation {jit[:128]}", 404)
            to, thread = rules.jit_recipients(members, ctx.country), jit
        if not to:
            raise CaseError("bad_request", "name the countries to share with ('to') or a joint investigation ('jit')")
        _check_members(ctx, to)
        payload = json.loads(row.data)
        if row.held_from == ctx.country:
            if handling is None:
                raise CaseError("bad_request", "a share needs its handling: {code, retention_days, condition?}")
        else:
            if handling is not None:
                raise CaseError("handling_fixed_by_provider", "an onward share keeps the provider's handling")
            original = json.loads(row.handling)
            granted = conn.execute(select(permissions.c.targets, permissions.c.raw).where(
                (permissions.c.provider == row.provider) & (permissions.c.reference == row.reference))).all()
            try:
                rules.check_onward_transfer(original, to, (c for g in granted for c in json.loads(g.targets)))
            except PolicyError as exc:
                ctx.log.warning("onward transfer refused", case_id=case_id, thread=thread,
                            to=list(to), reason=exc.reason)
                raise CaseError(exc.reason, exc.detail, 403) from None
            handling = rules.onward_handling(original, parse_time(row.retention_until), utcnow())
            provenance: dict[str, Any] = {"provider": row.provider, "reference": row.reference,
                                          "message_id": row.message_id}
            if original["code"] == "H2":
                provenance["permissions"] = [g.raw for g in granted if set(json.loads(g.targets)) & set(to)]
            payload["provenance"] = provenance
        env = ctx.build_sealed("case.share", list(to), payload, handling=dict(handling), thread=thread,
                                header={"reference": row.reference})
        at = format_time(utcnow())
        conn.execute(insert(shares_out), [{"case_id": case_id, "recipient": r, "message_id": env.id, "at": at}
                                          for r in to])
        ctx.enqueue([env], conn)
        if row.held_from != ctx.country:  # our copy of someone's case goes with that copy
            _carry(conn, case_id, env.id)
    ctx.log.info("case shared", message_id=env.id, thread=env.thread, to=list(to),
             handling=env.handling["code"], onward=row.held_from != ctx.country)
    return env


def grant_permission(ctx: FeatureContext, case_id: int, recipient: str, to: Sequence[str],
                     condition: str | None = None) -> wire.Envelope:
    """The provider lets `recipient` pass its case on to the countries `to`."""
    with ctx.db.begin() as conn:
        row = _case_row(conn, case_id)
        if row.provider != ctx.country:
            raise CaseError("not_own_case", "only the provider of a case grants onward transfer", 409)
        if recipient not in _recipients_of(conn, case_id):
            raise CaseError("not_shared_to_recipient", f"case {row.reference} was not shared with {recipient}", 409)
        _check_members(ctx, [recipient, *to])
        body: dict[str, Any] = {"reference": row.reference, "recipient": recipient, "to": list(to)}
        if condition:
            body["condition"] = condition
        env = ctx.build("case.permission", [recipient], body=body, thread=_case_thread(row))
        ctx.enqueue([env], conn)
    return env


def withdraw_case(ctx: FeatureContext, case_id: int, reason: str | None = None) -> wire.Envelope:
    """Tell every country we gave this case to delete it (they pass it on to whom they passed it)."""
    with ctx.db.begin() as conn:
        row = _case_row(conn, case_id)
        recipients = _recipients_of(conn, case_id)
        if not recipients:
            raise CaseError("not_shared", f"case {row.reference} is not shared with anyone", 409)
        body: dict[str, Any] = {"provider": row.provider, "reference": row.reference}
        if reason:
            body["reason"] = reason
        env = ctx.build_sealed("case.withdraw", recipients, body, thread=_case_thread(row),
                                header={"reference": row.reference})
        conn.execute(delete(shares_out).where(shares_out.c.case_id == case_id))
        ctx.enqueue([env], conn)
    return env


# -- reading: every access to personal data is logged ----------------------------------------------------

def _log_access(conn: Connection, who: str, action: str, rows: Sequence[Any]) -> None:
    at = format_time(utcnow())
    entries = {r.id: {"at": at, "who": who[:200], "action": action, "case_id": r.id, "provider": r.provider,
                      "reference": r.reference} for r in rows}
    if entries:
        conn.execute(insert(access_log), list(entries.values()))


def log_message_read(conn: Connection, message_id: str, who: str, body: Mapping[str, Any], sender: str) -> None:
    """A `case.share` opened as a message (nodes/national/reads.py): an access to the case it carries,
    logged against every copy held here (found by the message, else by provider and reference)."""
    linked = select(carriers.c.case_id).where(carriers.c.message_id == message_id).union(
        select(shares_out.c.case_id).where(shares_out.c.message_id == message_id))
    rows = conn.execute(select(cases).where(cases.c.id.in_(linked))).all()
    if not rows:
        provider = (body.get("provenance") or {}).get("provider", sender)
        rows = conn.execute(select(cases).where((cases.c.provider == provider)
                                                & (cases.c.reference == body.get("reference")))).all()
    _log_access(conn, who, "read_message", rows)


def _summary(row: Any) -> dict[str, Any]:
    handling = json.loads(row.handling) if row.handling else None
    return {"id": row.id, "provider": row.provider, "reference": row.reference, "held_from": row.held_from,
            "own": row.held_from == row.provider and row.message_id is None, "thread": row.thread,
            "handling": handling, "notices": rules.handling_notices(handling) if handling else [],
            "usable_in_judicial_proceedings": rules.usable_in_judicial_proceedings(handling) if handling else True,
            "retention_until": row.retention_until}


def list_cases(ctx: FeatureContext) -> list[dict[str, Any]]:
    """What the node holds, without personal data (not an access to it)."""
    with ctx.db.connect() as conn:
        rows = conn.execute(select(cases).order_by(cases.c.id)).all()
    return [{**_summary(r), "title": json.loads(r.data).get("title")} for r in rows]


def case_summary(ctx: FeatureContext, case_id: int) -> dict[str, Any]:
    """One held case without its personal data (reference, provider, handling): not an access to it."""
    with ctx.db.connect() as conn:
        return _summary(_case_row(conn, case_id))


def read_case(ctx: FeatureContext, case_id: int, who: str) -> dict[str, Any]:
    with ctx.db.begin() as conn:
        row = _case_row(conn, case_id)
        _log_access(conn, who, "read", [row])
        shared_with = _recipients_of(conn, case_id)
    return {**_summary(row), "case": json.loads(row.data),
            "provenance": json.loads(row.provenance) if row.provenance else None, "shared_with": shared_with}


def case_history(ctx: FeatureContext, case_id: int) -> list[dict[str, Any]]:
    """The case's own traffic held here (shares, permissions, withdrawals, both ways, oldest first; not
    receipts) and its shares into joint investigations still standing. Envelope facts only: no personal data, not logged."""
    with ctx.db.connect() as conn:
        row = _case_row(conn, case_id)
        in_jits = select(shares_out.c.message_id).where(shares_out.c.case_id == case_id)
        rows = conn.execute(select(message_table).where(
            ((message_table.c.thread == _case_thread(row)) | message_table.c.message_id.in_(in_jits))
            & message_table.c.type.in_(("case.share", "case.permission", "case.withdraw")))
            .order_by(message_table.c.created, message_table.c.message_id)).all()
    history = []
    for m in rows:
        env = wire.decode(m.raw)
        history.append({"id": m.message_id, "type": m.type, "direction": m.direction, "sender": m.sender,
                        "recipients": json.loads(m.recipients), "thread": m.thread, "created": m.created,
                        "handling": dict(env.handling) if m.type == "case.share" else None,
                        "permission": json.loads(m.body) if m.type == "case.permission" and m.body else None})
    return history


def permitted_targets(ctx: FeatureContext, case_id: int) -> list[str]:
    """The countries a held case's provider has let this node pass it on to (case.permission on file)."""
    with ctx.db.connect() as conn:
        row = _case_row(conn, case_id)
        granted = conn.execute(select(permissions.c.targets).where(
            (permissions.c.provider == row.provider) & (permissions.c.reference == row.reference))).scalars()
        return sorted({c for g in granted for c in json.loads(g)})


@dataclass(frozen=True)
class PersonQuery:
    name: str | None = None
    date_of_birth: str | None = None
    document: str | None = None


def search_persons(ctx: FeatureContext, query: PersonQuery, who: str) -> list[dict[str, Any]]:
    """Persons matching every given criterion: name tokens (folded, any order), date of birth
    (a partial date held matches a full one asked), document number (normalised)."""
    found: set[int] | None = None
    with ctx.db.begin() as conn:
        if query.name:
            tokens = rules.name_tokens(query.name)
            if not tokens:
                return []
            found = set(conn.execute(
                select(name_tokens.c.person_id).where(name_tokens.c.token.in_(tokens))
                .group_by(name_tokens.c.person_id, name_tokens.c.name_no)
                .having(func.count(func.distinct(name_tokens.c.token)) == len(tokens))).scalars())
        if query.date_of_birth:
            dob = query.date_of_birth
            ids = set(conn.execute(select(persons.c.id).where(
                persons.c.date_of_birth.in_({dob, dob[:7], dob[:4]}))).scalars())
            found = ids if found is None else found & ids
        if query.document:
            ids = set(conn.execute(select(documents.c.person_id).where(
                documents.c.number_key == normalise_document_number(query.document))).scalars())
            found = ids if found is None else found & ids
        if not found:
            return []
        hits = conn.execute(select(persons.c.position, cases).join(cases, cases.c.id == persons.c.case_id)
                            .where(persons.c.id.in_(found)).order_by(cases.c.id, persons.c.position)).all()
        _log_access(conn, who, "search", hits)
    return [{**_summary(h), "person": json.loads(h.data)["persons"][h.position]} for h in hits]


def search_vessels(ctx: FeatureContext, name: str | None, imo: str | None, who: str) -> list[dict[str, Any]]:
    condition = None
    if name:
        condition = vessels.c.name_key == rules.fold_name(name)
    if imo:
        by_imo = vessels.c.imo == rules.normalise_imo(imo)
        condition = by_imo if condition is None else condition & by_imo
    if condition is None:
        return []
    with ctx.db.begin() as conn:
        hits = conn.execute(select(vessels.c.position, cases).join(cases, cases.c.id == vessels.c.case_id)
                            .where(condition).order_by(cases.c.id, vessels.c.position)).all()
        _log_access(conn, who, "search", hits)
    return [{**_summary(h), "event": json.loads(h.data)["events"][h.position]} for h in hits]


def access_entries(ctx: FeatureContext, limit: int = 1000) -> list[dict[str, Any]]:
    with ctx.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(access_log).order_by(access_log.c.seq.desc()).limit(limit))]


def purge_journal(ctx: FeatureContext, limit: int = 1000) -> list[dict[str, Any]]:
    with ctx.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(purges).order_by(purges.c.seq.desc()).limit(limit))]


# -- statistics (paragraph 17) -----------------------------------------------------------------------------

def statistics(ctx: FeatureContext) -> list[dict[str, Any]]:
    with ctx.db.connect() as conn:
        rows = conn.execute(select(cases.c.provider, cases.c.data, cases.c.stored_at).order_by(cases.c.id)).all()
    return rules.case_statistics((r.provider, json.loads(r.data), r.stored_at) for r in rows)


def statistics_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=rules.STAT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
