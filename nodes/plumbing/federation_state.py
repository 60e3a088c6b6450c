"""The federation documents (directory, revocation list) a hub or node has accepted, kept in its own
database, so that an older genuinely root-signed file put back in their place is refused.

The rules are in crypto/directory.py (`check_succession`, `revocations_overdue`); this module
holds the highest serial seen and applies them when the hub or a node starts, when a new
document is published while it runs (`accept_publication`), and when a node fetches the newest
published ones from the hub at start-up (`catch_up`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert, select, update

from crypto.directory import (
    Directory,
    HeldDocument,
    RevocationList,
    check_publication,
    check_succession,
    document_digest,
    load_directory,
    load_revocations,
    publication_kind,
    revocations_overdue,
)
from crypto.errors import DirectoryError
from nodes.plumbing.federation import DOCUMENT_FILES, Federation
from nodes.plumbing.private_files import replace_atomically
from protocol.timefmt import format_time

log = structlog.get_logger("somex.federation")

metadata = MetaData()
held_documents = Table(
    "federation_documents", metadata,
    Column("kind", String(16), primary_key=True),  # "directory" or "revocations"
    Column("serial", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("accepted_at", String(32), nullable=False),
)


def admit_federation(engine: Engine, federation: Federation, now: datetime, holder: str) -> None:
    """Accept the loaded directory and revocation list if neither is older than what this holder
    accepted before (DirectoryError `stale_directory`, `stale_revocations` or `serial_reused`
    otherwise: the process must not start on them), then remember them as the highest seen."""
    metadata.create_all(engine)
    documents = {"directory": federation.directory, "revocations": federation.revocations}
    at = format_time(now)
    with engine.begin() as conn:
        held = {r.kind: HeldDocument(r.serial, r.digest) for r in conn.execute(select(held_documents))}
        for kind, document in documents.items():
            check_succession(kind, held.get(kind), document)
        for kind, document in documents.items():
            values = {"serial": document.serial, "digest": document_digest(document), "accepted_at": at}
            if kind not in held:
                conn.execute(insert(held_documents).values(kind=kind, **values))
            elif document.serial > held[kind].serial:
                conn.execute(update(held_documents).where(held_documents.c.kind == kind).values(**values))
                log.info("federation document updated", holder=holder, kind=kind, serial=document.serial,
                         previous_serial=held[kind].serial)
    for alarm in federation_alarms(federation, now):
        log.error("ALARM: " + alarm["detail"], holder=holder, reason=alarm["reason"], action=alarm["action"])


def federation_alarms(federation: Federation, now: datetime) -> list[dict[str, Any]]:
    """Open alarms about the federation documents in use (evaluated at `now`, so they appear
    without a restart): today, a revocation list past its `next_update`."""
    revocations = federation.revocations
    if not revocations_overdue(revocations, now):
        return []
    return [{"kind": "federation", "reason": "revocations_overdue", "at": format_time(now),
             "detail": f"the revocation list (serial {revocations.serial}) was due to be replaced by "
                       f"{format_time(revocations.next_update)}: a key revoked since may still be accepted here",
             "action": "ask the root operator for a new revocation list and publish it through the hub "
                       "(somex federation publish): every node applies it without restart"}]


def accept_publication(conn: Connection, federation: Federation, raw: bytes, now: datetime,
                       holder: str) -> tuple[Federation, Directory | RevocationList]:
    """A published directory or revocation list, checked (root signature, federation, a serial higher
    than the one in use and than any accepted before: DirectoryError otherwise, nothing changed),
    remembered in `conn`'s transaction and written over the holder's file (atomically), so that a
    restart starts from it. Returns the federation to swap in and the document."""
    document = check_publication(raw, federation.root_cert, federation.directory, federation.revocations, now)
    kind = "directory" if isinstance(document, Directory) else "revocations"
    metadata.create_all(conn)
    row = conn.execute(select(held_documents).where(held_documents.c.kind == kind)).first()
    held = HeldDocument(row.serial, row.digest) if row else None
    check_succession(kind, held, document)
    if held is not None and held.serial >= document.serial:  # the same document twice: a replay
        raise DirectoryError(f"stale_{kind}", f"{kind} serial {document.serial} was already accepted here "
                                              f"(serial {held.serial}): nothing changed")
    values = {"serial": document.serial, "digest": document_digest(document), "accepted_at": format_time(now)}
    if row is None:
        conn.execute(insert(held_documents).values(kind=kind, **values))
    else:
        conn.execute(update(held_documents).where(held_documents.c.kind == kind).values(**values))
    replace_atomically(federation.path / DOCUMENT_FILES[kind], bytes(raw))
    log.info("federation document applied", holder=holder, kind=kind, serial=document.serial,
             previous_serial=held.serial if held else None)
    return federation.with_document(document), document



def catch_up(engine: Engine, federation: Federation, raw: bytes, kind: str, now: datetime,
             holder: str) -> tuple[Federation, Directory | RevocationList | None]:
    """A `kind` document fetched from the hub (the newest it published): applied as a publication
    (`accept_publication`: root signature, federation, serial succession) if it is newer than the one
    in use; (federation, None) if it is the very one in use. DirectoryError, nothing changed, for
    anything else: another kind (`malformed`), not the root's (`bad_signature`), older or a different
    one under the serial in use (`stale_<kind>`)."""
    if publication_kind(raw) != kind:
        raise DirectoryError("malformed", f"asked the hub for the {kind}, it answered another document")
    offered = load_directory(raw, federation.root_cert, now) if kind == "directory" \
        else load_revocations(raw, federation.root_cert)
    held = federation.directory if kind == "directory" else federation.revocations
    if offered.serial == held.serial and document_digest(offered) == document_digest(held):
        return federation, None
    with engine.begin() as conn:
        return accept_publication(conn, federation, raw, now, holder)
