"""Deleted means gone from disk (issue 20), tried as a data-protection auditor would: unique
marker strings go through a real federation, then every file of the state directory is read
byte by byte (databases and their write-ahead logs) after the deletion.

Without the erase right after a withdrawal, the markers stayed in the recipients' write-ahead
logs until the next retention sweep (up to ten minutes); without retention of the message store,
an alert's document number stayed in `messages` at every node forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from nodes.national.features.cases import store as case_store
from nodes.national import retention
from nodes.national.features.alerts.replica import hits
from nodes.national.store import messages
from nodes.plumbing.config import utcnow
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_cases import Focal, focal_points, personal_rows
from tests.unit.test_cases import CASE

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


@pytest.fixture
async def focal(fed: RunningFederation) -> AsyncIterator[dict[str, Focal]]:
    async for points in focal_points(fed):
        yield points


def files_holding(root: Path, marker: bytes) -> list[str]:
    """Every file under `root` whose bytes contain `marker`."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and marker in p.read_bytes())


def node_files_holding(fed: RunningFederation, country: str, marker: bytes) -> list[str]:
    return [f for f in files_holding(fed.path, marker) if f.startswith(f"{country}.db")]


async def test_a_withdrawn_case_is_unreadable_on_disk_as_soon_as_the_recipient_has_deleted_it(
        fed: RunningFederation, focal) -> None:  # noqa: ANN001
    marker = "Zebulon-Quattrocchi"
    case = {**CASE, "reference": "IDN-GONE", "persons": [{**CASE["persons"][0], "name": marker}]}
    own = (await focal["IDN"].ok("POST", "/api/cases", case))["id"]
    await focal["IDN"].ok("POST", f"/api/cases/{own}/share", {"to": ["MEX", "ITA"], "handling": {"code": "H0", "retention_days": 30}})
    held = {c: await focal[c].wait_for_case("IDN-GONE", "IDN") for c in ("MEX", "ITA")}
    for country in held:
        assert node_files_holding(fed, country, marker.encode()), "the recipient holds the case in clear"

    await focal["IDN"].ok("POST", f"/api/cases/{own}/withdraw", {})
    for country, case_id in held.items():
        await eventually(lambda c=country, i=case_id: personal_rows(fed, c, i) == 0, what=f"withdrawal at {country}")
    # The recipient erases before it acknowledges the withdrawal, in the thread that deleted the
    # rows: the files are clean within moments, long before any retention sweep (10 minutes).
    for country in held:
        await eventually(lambda c=country: not node_files_holding(fed, c, marker.encode()), timeout=3,
                         what=f"no trace of the withdrawn case in {country}'s files")
    assert node_files_holding(fed, "IDN", marker.encode()), "the provider keeps its own case"


async def test_every_connection_overwrites_what_it_deletes(fed: RunningFederation) -> None:
    for node in fed.nodes.values():
        with node.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


async def test_stored_messages_leave_every_node_on_their_retention_day(fed: RunningFederation, focal) -> None:  # noqa: ANN001
    today = utcnow().date()
    doc = "QX7719305"  # an alert whose review date has passed
    await fed.nodes["ITA"].send("alert.document", ["*"], body={
        "document_number": doc, "document_type": "passport", "issuing_country": "ITA", "status": "stolen",
        "action": "create", "reported": "2020-01-01", "review_date": (today - timedelta(days=1)).isoformat()})
    current = "QX7719306"  # and one still under review
    await fed.nodes["ITA"].send("alert.document", ["*"], body={
        "document_number": current, "document_type": "passport", "issuing_country": "ITA", "status": "stolen",
        "action": "create", "reported": "2026-11-20"})
    note = "Ottoline-Vasquez-Marchetti"
    await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"ask about {note}"})
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: len(fed.inbox(c, type="alert.document")) == 2, what=f"alerts at {country}")
    await eventually(lambda: fed.inbox("IDN", type="note"), what="the note at IDN")

    for country in ("MEX", "IDN", "ITA"):  # today: only the alert past its review date goes
        retention.sweep(fed.nodes[country], utcnow())
        assert not node_files_holding(fed, country, doc.encode()), country
        assert node_files_holding(fed, country, current.encode()), country
    assert node_files_holding(fed, "IDN", note.encode()) and node_files_holding(fed, "MEX", note.encode())

    later = utcnow() + timedelta(days=731)  # past the notes' federation-wide maximum
    for country in ("MEX", "IDN"):
        retention.sweep(fed.nodes[country], later)
        assert not node_files_holding(fed, country, note.encode()), country
        with fed.nodes[country].store.engine.connect() as conn:
            kinds = set(conn.execute(select(messages.c.type)).scalars())
        assert not kinds & {"note", "receipt"}, kinds


async def test_hits_and_investigation_messages_have_a_retention_too(fed: RunningFederation, focal) -> None:  # noqa: ANN001
    text = "Meet Florimond-Achterberg at the quay"
    thread = (await focal["MEX"].ok("POST", "/api/jits", {"members": ["MEX", "IDN"], "title": "JIT"}))["thread"]
    await focal["MEX"].ok("POST", f"/api/jits/{thread}/messages", {"text": text})
    await eventually(lambda: node_files_holding(fed, "IDN", b"Florimond"), what="the message at IDN")

    node = fed.nodes["IDN"]
    with node.store.engine.begin() as conn:  # a hit reported to IDN, as record_hit stores it
        conn.execute(hits.insert(), {"message_id": "6a0c3d5e-0000-4000-8000-000000000001", "checking_country": "MEX",
                                     "issuing_country": "IDN", "document_type": "passport",
                                     "document_number": "HITMARK42", "status": "stolen", "checked_at": "2026-12-01T00:00:00Z",
                                     "check_kind": "border", "point": "gate 3", "received_at": "2026-12-01T00:00:00Z"})
    retention.sweep(node, utcnow())
    assert node_files_holding(fed, "IDN", b"Florimond") and node_files_holding(fed, "IDN", b"HITMARK42")
    retention.sweep(node, utcnow() + timedelta(days=1096))
    assert not node_files_holding(fed, "IDN", b"Florimond")
    assert not node_files_holding(fed, "IDN", b"HITMARK42")


async def test_a_held_case_keeps_the_message_it_came_in_for_as_long_as_the_case(fed: RunningFederation, focal) -> None:  # noqa: ANN001
    own = (await focal["IDN"].ok("POST", "/api/cases", {**CASE, "reference": "IDN-LONG-KEPT"}))["id"]
    await focal["IDN"].ok("POST", f"/api/cases/{own}/share",
                          {"to": ["MEX"], "handling": {"code": "H0", "retention_days": 3650}})
    held = await focal["MEX"].wait_for_case("IDN-LONG-KEPT", "IDN")
    retention.sweep(fed.nodes["MEX"], utcnow() + timedelta(days=1900))  # past case.share's class maximum
    assert personal_rows(fed, "MEX", held) > 0
    assert len(fed.inbox("MEX", type="case.share")) == 1
    retention.sweep(fed.nodes["MEX"], utcnow() + timedelta(days=3651))
    assert personal_rows(fed, "MEX", held) == 0 and fed.inbox("MEX", type="case.share") == []
    assert [j["reason"] for j in case_store.purge_journal(fed.nodes["MEX"].contexts["cases"])] == ["retention"]


async def test_mla_and_other_case_messages_and_refusals_leave_at_their_federation_maximum(
        fed: RunningFederation, focal) -> None:  # noqa: ANN001
    from nodes.national.store import refusals
    from tests.integration.test_mla import fields

    request = fed.nodes["ITA"].mla.create(fields("ITA-RETAINED"))["id"]
    await eventually(lambda: any(r["id"] == request for r in fed.nodes["MEX"].mla.list()), what="the request at MEX")
    own = (await focal["IDN"].ok("POST", "/api/cases", {**CASE, "reference": "IDN-PERMIT"}))["id"]
    await focal["IDN"].ok("POST", f"/api/cases/{own}/share", {"to": ["MEX"], "handling": {"code": "H2", "retention_days": 30}})
    held = await focal["MEX"].wait_for_case("IDN-PERMIT", "IDN")
    await focal["IDN"].ok("POST", f"/api/cases/{own}/permission", {"recipient": "MEX", "to": ["ITA"]})
    await eventually(lambda: fed.inbox("MEX", type="case.permission"), what="the permission at MEX")
    await fed.publish_raw("MEX", b"{not an envelope")  # MEX is told: a hub.rejection stored at MEX
    await eventually(lambda: fed.inbox("MEX", type="hub.rejection"), what="the rejection at MEX")
    node = fed.nodes["MEX"]
    with node.store.engine.begin() as conn:  # a refusal recorded long ago
        conn.execute(refusals.insert(), {"message_id": None, "sender": "IDN", "reason": "bad_signature",
                                         "detail": "old", "at": "2020-01-01T00:00:00.000000Z"})

    def kinds() -> set[str]:
        with node.store.engine.connect() as conn:
            return set(conn.execute(select(messages.c.type)).scalars())

    retention.sweep(node, utcnow())
    assert {"mla.request", "case.permission", "hub.rejection"} <= kinds()
    with node.store.engine.connect() as conn:
        assert conn.execute(select(refusals.c.detail)).scalars().all() == []  # past 2 years: gone
    retention.sweep(node, utcnow() + timedelta(days=1826))  # past case messages' 5 years; the case's own 30 days too
    assert "case.permission" not in kinds() and "hub.rejection" not in kinds() and "mla.request" in kinds()
    assert personal_rows(fed, "MEX", held) == 0
    retention.sweep(node, utcnow() + timedelta(days=3651))  # past MLA's 10 years
    assert not kinds() & {"mla.request", "mla.status", "case.share", "case.permission", "hub.rejection"}, kinds()
