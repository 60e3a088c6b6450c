"""The node's central authority for MLA and extradition: requests in both directions, their
lifecycle (protocol.mla), delivery evidence, deadlines and reminders.

Every change of a request's state, its event row and the sealed message that carries it are
committed in one transaction. Incoming events are checked again here against the stored request
(a peer is not trusted): a refused event is recorded in `refusals` and in the request's timeline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import (
    Column, Connection, Integer, MetaData, String, Table, Text, UniqueConstraint, insert, select, update,
)

from crypto.signing import VerifiedEnvelope
from nodes.national.store import messages, receipts, record_refusal
from nodes.plumbing.config import utcnow
from protocol import envelope as wire
from protocol import mla
from protocol.errors import PolicyError, ProtocolError, TransitionError
from protocol.mla import Role, State
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.feature import FeatureContext

log = structlog.get_logger("somex.mla")

metadata = MetaData()
requests = Table(
    "mla_requests", metadata,
    Column("request_id", String(36), primary_key=True),  # the id of the mla.request message
    Column("direction", String(3), nullable=False, index=True),  # out: we request; in: we are requested
    Column("requesting", String(8), nullable=False),
    Column("requested", String(8), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("thread", String(128), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("deadline", String(10)),
    Column("state", String(40), nullable=False, index=True),
    Column("created", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("delivered_at", String(32)),
    Column("retrieved_at", String(32)),
    Column("reminded", String(16), nullable=False, default=""),  # "", "due_soon" or "overdue"
    UniqueConstraint("requesting", "reference"),
)
events = Table(
    "mla_events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("message_id", String(36)),  # the message that carried it; none for the node's own events
    Column("event", String(40), nullable=False),
    Column("actor", String(8), nullable=False),  # a country code
    Column("from_state", String(40)),
    Column("to_state", String(40)),
    Column("at", String(32), nullable=False),
    Column("refused", String(64)),  # reason code, if this node refused the event
    Column("detail", Text),
)


@dataclass(frozen=True)
class Upload:
    """An attachment as a focal point gave it."""

    name: str
    media_type: str
    content: bytes

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "size": len(self.content),
                "sha256": hashlib.sha256(self.content).hexdigest(),
                "content": base64.b64encode(self.content).decode("ascii")}


class CentralAuthority:
    """MLA requests at one node (UNTOC article 18(13)): sending, receiving, watching deadlines."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self.engine = ctx.db
        self.log = ctx.log

    # -- the focal point's actions ---------------------------------------------------------------

    def create(self, fields: Mapping[str, Any], uploads: Sequence[Upload] = (),
               files: Sequence[Any] = ()) -> dict[str, Any]:
        """Seal and queue a new request; ProtocolError (a reason code) if it cannot be sent.
        `files`: large files spooled by the files feature (sent in chunks once the request is delivered)."""
        ctx = self.ctx
        body = {**fields, "requesting": ctx.country}
        if uploads:
            body["attachments"] = [u.as_json() for u in uploads]
        if files:
            body["files"] = [f.ref for f in files]
        for name in ("reference", "requested", "kind", "urgency"):
            if not isinstance(body.get(name), str):
                raise ProtocolError("bad_body", f"$.{name}: required")
        if body["requested"] not in ctx.federation.directory.node_ids():
            raise PolicyError("unknown_recipient", f"{body['requested'][:8]!r} is not a member of the federation")
        warnings = self._check_before_sealing(body)
        header = {"reference": body["reference"], "kind": body["kind"], "status": State.SUBMITTED.value,
                  "urgency": body["urgency"], "deadline": body.get("deadline")}
        thread = mla.thread_of(ctx.country, body["reference"])
        env = ctx.build_sealed("mla.request", [body["requested"]], body, header=header, thread=thread)
        now = format_time(utcnow())
        with self.engine.begin() as conn:
            if _find(conn, ctx.country, body["reference"]) is not None:
                raise ProtocolError("duplicate_reference", f"a request {body['reference']!r} exists already")
            conn.execute(insert(requests), {
                "request_id": env.id, "direction": "out", "requesting": ctx.country,
                "requested": body["requested"], "reference": body["reference"], "thread": thread,
                "kind": body["kind"], "urgency": body["urgency"], "deadline": body.get("deadline"),
                "state": State.SUBMITTED.value, "created": env.created, "updated_at": now, "reminded": ""})
            _event(conn, env.id, env.id, "submit", ctx.country, None, State.SUBMITTED, now)
            ctx.enqueue([env], conn)
            _send_files(ctx, conn, env, files)
        self.log.info("mla request queued", message_id=env.id, thread=thread, requested=body["requested"],
                      language=body.get("language"), treaty_override=bool(body.get("treaty_override")),
                      warnings=warnings)
        return {"id": env.id, "reference": body["reference"], "thread": thread, "state": State.SUBMITTED.value,
                "warnings": warnings}

    def _check_before_sealing(self, body: Mapping[str, Any]) -> list[str]:
        """Issue 17 part 2 (docs/profiles.md): the composition rules (language, each measure's
        template) and the requested State's published profile (language accepted, treaty required
        for extradition); PolicyError with the reason code, else the warnings (`no_profile`)."""
        mla.check_composition(body)
        book = self.ctx.service_of("profiles")
        return book.check_request(body) if book is not None else ["no_profile"]

    def act(self, request_id: str, event: str, *, note: str | None = None, grounds: Sequence[str] = (),
            uploads: Sequence[Upload] = (), files: Sequence[Any] = (), language: str | None = None) -> dict[str, Any]:
        """Send a lifecycle event on a request; TransitionError if this State may not, now. A note
        carries its `language` (ISO 639-1): the one given, else this node's profile's first
        language, else none (docs/mla.md)."""
        if note and language is None:
            language = self._own_language()
        with self.engine.begin() as conn:
            row = _row(conn, request_id)
            role = Role.REQUESTING if row.direction == "out" else Role.REQUESTED
            rule = mla.BY_EVENT.get(event)
            if rule is None or rule.message_type is None:
                raise TransitionError("unknown_event", f"a focal point cannot send {event[:64]!r}")
            target = mla.apply(row.state, event, role)
            env = self._event_message(row, rule.message_type, event, target, note, grounds, uploads, files,
                                      language if note else None)
            now = format_time(utcnow())
            _move(conn, row, target, now)
            _event(conn, request_id, env.id, event, self.ctx.country, row.state, target, now)
            self.ctx.enqueue([env], conn)
            _send_files(self.ctx, conn, env, files)
        self.log.info("mla event queued", message_id=env.id, thread=row.thread, mla_event=event, state=target.value)
        return {"id": env.id, "event": event, "state": target.value}

    def _event_message(self, row: Any, message_type: str, event: str, target: State, note: str | None,
                       grounds: Sequence[str], uploads: Sequence[Upload], files: Sequence[Any] = (),
                       language: str | None = None):  # noqa: ANN202
        body: dict[str, Any] = {"reference": row.reference, "requesting": row.requesting,
                                "requested": row.requested, "event": event, "at": format_time(utcnow())}
        if note:
            body["note"] = note
        if language:
            body["language"] = language
        mla.check_answer(body)
        if grounds:
            body["grounds"] = list(grounds)
        if uploads:
            body["attachments"] = [u.as_json() for u in uploads]
        if files:
            body["files"] = [f.ref for f in files]
        other = row.requested if row.direction == "out" else row.requesting
        header = {"reference": row.reference, "kind": row.kind, "event": event, "status": target.value}
        return self.ctx.build_sealed(message_type, [other], body, header=header, thread=row.thread,
                                      reply_to=row.request_id)

    def _own_language(self) -> str | None:
        """The first language of this node's own published profile, if the profiles feature has one."""
        book = self.ctx.service_of("profiles")
        own = book.get(self.ctx.country) if book is not None else None
        languages = (own or {}).get("languages") or []
        return languages[0] if languages else None

    def open(self, request_id: str, who: str) -> dict[str, Any]:
        """The request, opened through the read path (nodes/national/reads.py) for `who`, with its
        timeline and handling. The read path journals it and, on a focal point's first look at a
        received request, sends the requesting State a `retrieved` receipt."""
        with self.engine.connect() as conn:
            row = _row(conn, request_id)  # LookupError for anything but a request
        opened = self.ctx.sender.open(request_id, who)
        timeline = self._timeline(row)
        with self.engine.connect() as conn:  # read after the timeline, so it reflects every entry shown
            row = _row(conn, request_id)
        return {**summary(row), "request": opened.body_without_attachment_contents(),
                "handling": dict(opened.handling), "notices": opened.notices, "timeline": timeline}

    def status(self, request_id: str) -> dict[str, Any]:
        """The request's state and timeline without its body: not a read (the console's live part)."""
        with self.engine.connect() as conn:
            row = _row(conn, request_id)
        timeline = self._timeline(row)
        with self.engine.connect() as conn:
            row = _row(conn, request_id)
        return {**summary(row), "timeline": timeline}

    def mark_retrieved(self, conn: Connection, request_id: str) -> None:
        """Inside the read path's transaction: the first look at a received request sends the
        requesting State a signed `retrieved` receipt (once, even for two readers at once)."""
        row = conn.execute(select(requests).where(requests.c.request_id == request_id)).first()
        if row is None or row.direction != "in" or row.retrieved_at is not None:
            return  # not a request this node took in (e.g. one its inbox refused), or looked at before
        now = format_time(utcnow())
        claimed = conn.execute(update(requests).where(
            (requests.c.request_id == request_id) & requests.c.retrieved_at.is_(None)
        ).values(retrieved_at=now)).rowcount
        if claimed:
            digest = conn.execute(select(messages.c.digest).where(messages.c.message_id == request_id)).scalar_one()
            receipt = self.ctx.build("receipt", [row.requesting], reply_to=request_id, thread=row.thread,
                                      body={"of": request_id, "digest": digest, "kind": "retrieved", "at": now})
            self.ctx.enqueue([receipt], conn)

    def attachment(self, message_id: str, index: int, who: str) -> tuple[Mapping[str, Any], bytes]:
        """One attachment of an MLA message, read through the read path for `who` and checked
        against its SHA-256 as it is read."""
        stored = self.ctx.store.get(message_id)
        if stored is None:
            raise LookupError(f"no message {message_id[:40]}")
        if not stored.type.startswith("mla."):
            raise LookupError(f"{message_id} is not an MLA message")
        attachments = self.ctx.sender.open(message_id, who, purpose="attachment").body.get("attachments", [])
        if not 0 <= index < len(attachments):
            raise LookupError(f"{message_id} has {len(attachments)} attachment(s)")
        content = mla.check_attachments([attachments[index]])[0]
        return attachments[index], content

    def timeline(self, request_id: str) -> list[dict[str, Any]]:
        """Every status change and receipt on the request's thread, with who and when."""
        with self.engine.connect() as conn:
            return self._timeline(_row(conn, request_id))

    def _timeline(self, row: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            items = [{"at": e.at, "what": e.event, "by": e.actor, "message_id": e.message_id,
                      "from": e.from_state, "to": e.to_state, **({"refused": e.refused, "detail": e.detail}
                                                                  if e.refused else {})}
                     for e in conn.execute(select(events).where(events.c.request_id == row.request_id))]
            thread_messages = conn.execute(select(messages.c.message_id, messages.c.type, messages.c.direction,
                                                  messages.c.body, messages.c.sender)
                                           .where(messages.c.thread == row.thread)).all()
            ours = [m.message_id for m in thread_messages if m.direction == "out" and m.type.startswith("mla.")]
            for r in conn.execute(select(receipts).where(receipts.c.of.in_(ours))):
                items.append({"at": r.at, "what": f"receipt.{r.kind}", "by": r.by, "message_id": r.receipt_id,
                              "of": r.of})
            ours_and_theirs = {m.message_id for m in thread_messages if m.type.startswith("mla.")}
            for m in thread_messages:
                if m.direction == "out" and m.type == "receipt":
                    sent = wire.parse_json(m.body, what="body")
                    if sent["of"] not in ours_and_theirs:  # e.g. a file chunk's (docs/evidence-files.md)
                        continue
                    items.append({"at": sent["at"], "what": f"receipt.{sent['kind']}", "by": m.sender,
                                  "message_id": m.message_id, "of": sent["of"]})
        return sorted(items, key=lambda i: i["at"])

    def list(self, *, direction: str | None = None, state: str | None = None, kind: str | None = None,
             due: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
        """Requests, newest first; `due` = "overdue" or "soon" keeps open requests by deadline."""
        query = select(requests).order_by(requests.c.created.desc())
        for column, value in ((requests.c.direction, direction), (requests.c.state, state),
                              (requests.c.kind, kind)):
            if value:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if due:
            today = today or utcnow().date()
            rows = [r for r in rows if _due(r, today, self.ctx.settings["mla_due_soon"]) == due]
        return [summary(r) for r in rows]

    # -- deadlines and delivery evidence ----------------------------------------------------------

    async def watch(self) -> None:
        """Mark requests without delivery evidence in time `not_delivered`; remind of deadlines."""
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - a database hiccup: the next sweep retries
                self.log.exception("mla sweep failed")
            await asyncio.sleep(self.ctx.settings["mla_sweep_interval"])

    def sweep(self) -> None:
        ctx, now = self.ctx, utcnow()
        cutoff = format_time(now - ctx.settings["mla_delivery_timeout"])
        stamp = format_time(now)
        with self.engine.begin() as conn:
            late = conn.execute(select(requests).where(
                (requests.c.direction == "out") & (requests.c.state == State.SUBMITTED.value)
                & (requests.c.created < cutoff))).all()
            for row in late:
                target = mla.apply(row.state, "delivery_timeout", Role.NODE)
                _move(conn, row, target, stamp)
                _event(conn, row.request_id, None, "delivery_timeout", ctx.country, row.state, target, stamp)
                self.log.warning("mla request not delivered in time", message_id=row.request_id, thread=row.thread)
            open_out = conn.execute(select(requests).where(
                (requests.c.direction == "out") & requests.c.deadline.is_not(None)
                & requests.c.state.in_([s.value for s in mla.OPEN]))).all()
            for row in open_out:
                due = _due(row, now.date(), ctx.settings["mla_due_soon"])
                wanted = "overdue" if due == "overdue" else "due_soon"
                if due is None or row.reminded in (wanted, "overdue"):
                    continue
                note = (f"reminder: the deadline {row.deadline} has passed" if due == "overdue"
                        else f"reminder: the deadline {row.deadline} is near")
                env = self._event_message(row, "mla.status", "remind", State(row.state), note, (), ())
                conn.execute(update(requests).where(requests.c.request_id == row.request_id).values(reminded=wanted))
                _event(conn, row.request_id, env.id, "remind", ctx.country, row.state, row.state, stamp)
                ctx.enqueue([env], conn)
                self.log.info("mla reminder queued", message_id=env.id, thread=row.thread, due=due)


def _due(row: Any, today: date, soon: timedelta) -> str | None:
    if row.deadline is None or row.state not in mla.OPEN:
        return None
    deadline = date.fromisoformat(row.deadline)
    if deadline < today:
        return "overdue"
    return "soon" if deadline - today <= soon else None


def summary(row: Any) -> dict[str, Any]:
    return {"id": row.request_id, "direction": row.direction, "requesting": row.requesting,
            "requested": row.requested, "reference": row.reference, "thread": row.thread, "kind": row.kind,
            "urgency": row.urgency, "deadline": row.deadline, "state": row.state, "created": row.created,
            "updated_at": row.updated_at, "delivered_at": row.delivered_at, "retrieved_at": row.retrieved_at}


def _find(conn: Connection, requesting: str, reference: str) -> Any:
    return conn.execute(select(requests).where(
        (requests.c.requesting == requesting) & (requests.c.reference == reference))).first()


def _row(conn: Connection, request_id: str) -> Any:
    row = conn.execute(select(requests).where(requests.c.request_id == request_id)).first()
    if row is None:
        raise LookupError(f"no MLA request {request_id[:40]}")
    return row


def _move(conn: Connection, row: Any, target: State, at: str) -> None:
    """Change the state only if nobody changed it meanwhile."""
    changed = conn.execute(update(requests).where(
        (requests.c.request_id == row.request_id) & (requests.c.state == row.state)
    ).values(state=target.value, updated_at=at)).rowcount
    if not changed:
        raise TransitionError("conflict", f"the request changed state meanwhile; it was {row.state}")


def _event(conn: Connection, request_id: str, message_id: str | None, event: str, actor: str,
           from_state: str | None, to_state: str | None, at: str, refused: ProtocolError | None = None) -> None:
    conn.execute(insert(events), {"request_id": request_id, "message_id": message_id, "event": event, "actor": actor,
                                  "from_state": from_state, "to_state": to_state, "at": at,
                                  "refused": refused.reason if refused else None,
                                  "detail": refused.detail if refused else None})


def _refuse(conn: Connection, verified: VerifiedEnvelope, error: ProtocolError, at: str) -> None:
    env = verified.envelope
    record_refusal(conn, env.id, env.sender, error.reason, f"{error.reason}: {error.detail}", at)
    log.warning("mla message refused", message_id=env.id, thread=env.thread, reason=error.reason, detail=error.detail)


# -- effects of incoming messages (inside the node's storing transaction) ---------------------------

def on_request(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                body: Mapping[str, Any] | None) -> None:
    assert body is not None
    env, now = verified.envelope, format_time(utcnow())
    if _find(conn, body["requesting"], body["reference"]) is not None:
        duplicate = f"{body['requesting']} already sent a request {body['reference']!r}"
        _refuse(conn, verified, ProtocolError("duplicate_reference", duplicate), now)
        return
    conn.execute(insert(requests), {
        "request_id": env.id, "direction": "in", "requesting": body["requesting"], "requested": body["requested"],
        "reference": body["reference"], "thread": env.thread, "kind": body["kind"], "urgency": body["urgency"],
        "deadline": body.get("deadline"), "state": State.RECEIVED.value, "created": env.created,
        "updated_at": now, "delivered_at": now, "reminded": ""})
    _event(conn, env.id, env.id, "receive", env.sender, None, State.RECEIVED, now)
    _expect_files(ctx, conn, env, body)


def on_event(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
              body: Mapping[str, Any] | None) -> None:
    assert body is not None
    env, now = verified.envelope, format_time(utcnow())
    row = _find(conn, body["requesting"], body["reference"])
    if row is None or row.request_id != env.reply_to:
        _refuse(conn, verified, ProtocolError("unknown_request", f"no request {body['reference']!r} from "
                                                                 f"{body['requesting']} answered by reply_to"), now)
        return
    try:
        role = mla.role_of(env.sender, row.requesting, row.requested)
        if role is Role.REQUESTED and row.state in (State.SUBMITTED, State.NOT_DELIVERED):
            # An answer proves delivery even if the receipt is still on its way.
            row = _delivered(conn, row, env.sender, env.id, now)
        target = mla.apply(row.state, body["event"], role)
        if env.header["status"] != target:
            raise ProtocolError("header_mismatch", f"the header says {env.header['status']}, the request is "
                                                   f"now {target}")
        _move(conn, row, target, now)
    except ProtocolError as exc:
        _refuse(conn, verified, exc, now)
        _event(conn, row.request_id, env.id, body["event"], env.sender, row.state, None, now, refused=exc)
        return
    _event(conn, row.request_id, env.id, body["event"], env.sender, row.state, target, now)
    _expect_files(ctx, conn, env, body)


# -- large files (the files feature, reached through its service) ---------------------------------

def _send_files(ctx: FeatureContext, conn: Connection, env: wire.Envelope, files: Sequence[Any]) -> None:
    if files:
        ctx.service_of("files").send_with(conn, env, files)


def _expect_files(ctx: FeatureContext, conn: Connection, env: wire.Envelope, body: Mapping[str, Any]) -> None:
    if body.get("files"):
        ctx.service_of("files").expect(conn, env, body["files"])


def _delivered(conn: Connection, row: Any, by: str, evidence: str, at: str) -> Any:
    target = mla.apply(row.state, "deliver", Role.NODE)
    _move(conn, row, target, at)
    conn.execute(update(requests).where(requests.c.request_id == row.request_id).values(delivered_at=at))
    _event(conn, row.request_id, evidence, "deliver", by, row.state, target, at)
    return _row(conn, row.request_id)


def on_receipt(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any]) -> None:
    """A receipt the core accepted (nodes/national/receipts.py) for a request this node sent:
    delivered or retrieved evidence in the request's lifecycle."""
    env, now = verified.envelope, format_time(utcnow())
    row = conn.execute(select(requests).where(requests.c.request_id == body["of"])).first()
    if row is None:
        return
    if body["kind"] == "delivered" and row.state in (State.SUBMITTED, State.NOT_DELIVERED):
        _delivered(conn, row, env.sender, env.id, now)
    elif body["kind"] == "delivered" and row.delivered_at is None:  # e.g. withdrawn before delivery
        conn.execute(update(requests).where(requests.c.request_id == row.request_id).values(delivered_at=now))
    elif body["kind"] == "retrieved" and row.retrieved_at is None:
        conn.execute(update(requests).where(requests.c.request_id == row.request_id)
                     .values(retrieved_at=body["at"]))


def on_opened(ctx: FeatureContext, conn: Connection, env: wire.Envelope, body: Mapping[str, Any], direction: str,
              who: str) -> None:
    """The read path opened a request: a received one's first look sends the `retrieved` receipt."""
    if direction == "in":
        ctx.service.mark_retrieved(conn, env.id)


def awaiting_action(ctx: FeatureContext, stored: Sequence[Any]) -> set[str]:
    """Received MLA messages that wait for this focal point: a request still open on our side, a
    request for information not yet answered."""
    ids = {m.reply_to or m.message_id for m in stored if m.type.startswith("mla.")}
    if not ids:
        return set()
    with ctx.db.connect() as conn:
        states = {r.request_id: r.state for r in conn.execute(
            select(requests.c.request_id, requests.c.state).where(requests.c.request_id.in_(ids)))}
    needed = set()
    for m in stored:
        if m.direction != "in":
            continue
        if m.type == "mla.request" and states.get(m.message_id) in mla.OPEN:
            needed.add(m.message_id)
        elif m.type == "mla.status" and states.get(m.reply_to) == mla.State.INFORMATION_REQUESTED:
            needed.add(m.message_id)
    return needed


async def watch(ctx: FeatureContext) -> None:
    await ctx.service.watch()


__all__ = ["CentralAuthority", "Upload", "awaiting_action", "on_opened", "on_receipt", "summary", "watch"]
