"""A node that was offline during publications catches up at start-up from the hub's API (issue 15,
item 3), even when the broadcasts that carried them are gone from its inbox (expired, purged); a
hub serving an older or forged document changes nothing and is refused with a reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

import broker_config
from crypto.directory import RevocationList, sign_revocations
from crypto.errors import DirectoryError
from nodes.hub import api as hub_api
from nodes.national.federation_fetch import FETCH_ALARM
from nodes.plumbing.config import utcnow
from nodes.plumbing.db import make_engine
from nodes.plumbing.federation import DIRECTORY_FILE, REVOCATIONS_FILE, load_federation
from nodes.app.root_operator import load_root_key, reissue_directory, revoke
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation_state import admit_federation, catch_up, held_documents
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_live_federation import _inject_to_inbox, _note_from

pytestmark = pytest.mark.integration


async def _served(app: web.Application) -> tuple[TestServer, str]:
    server = TestServer(app)
    await server.start_server()
    return server, str(server.make_url("")).rstrip("/")


async def _purge_inbox(broker, fed: RunningFederation, country: str) -> None:  # noqa: ANN001
    """What an expired TTL or a lost broker does to the broadcasts waiting for a node."""
    path = f"/api/queues/{quote(fed.vhost, safe='')}/{quote(broker_config.inbox_queue(country), safe='')}"
    await eventually(lambda: broker.api("GET", path).get("messages", 0) >= 2, timeout=30, what=f"both broadcasts in {country}'s inbox")
    broker.api("DELETE", f"{path}/contents")  # returns once purged (hub checkpoints keep arriving after it)


async def test_node_offline_during_two_publications_whose_broadcasts_are_gone_fetches_the_newest_at_start(
        broker, fed: RunningFederation) -> None:  # noqa: ANN001
    stale = fed.federation
    await fed.nodes.pop("ITA").stop()
    home = fed.path / "federation"
    revoke(home, fed.federation.credentials("MEX").signing_key.kid, utcnow())  # the root operator
    await fed.hub.publish_federation_document((home / REVOCATIONS_FILE).read_bytes())
    reissue_directory(home, utcnow())
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    newest = load_federation(home, utcnow())
    await eventually(lambda: fed.audit(type="hub.directory"), what="the second publication audited")
    await _purge_inbox(broker, fed, "ITA")

    server, url = await _served(hub_api.make_app(fed.hub))
    try:
        # The hub serves the root-signed bytes as published, to anyone.
        async with aiohttp.ClientSession() as http:
            for kind, name in (("directory", DIRECTORY_FILE), ("revocations", REVOCATIONS_FILE)):
                async with http.get(f"{url}/api/federation/{kind}") as response:
                    assert response.status == 200
                    assert await response.read() == (home / name).read_bytes()

        fed.federation = stale
        ita = await fed.start_node("ITA", hub_api_url=url)
        assert ita.federation_fetch == {"directory": "applied", "revocations": "applied"}
        assert (ita.federation.directory.serial, ita.federation.revocations.serial) \
            == (newest.directory.serial, newest.revocations.serial)
        assert (stale.directory.serial, stale.revocations.serial) < \
            (newest.directory.serial, newest.revocations.serial)
        assert ita.alarms.active() == []
        # In force from the start: a message signed by the revoked key is refused.
        forged = _note_from(fed, "MEX", ["ITA"], "after the revocation")
        await _inject_to_inbox(fed, "ITA", forged)
        await eventually(lambda: [r for r in ita.store.refusals() if r["message_id"] == forged.id
                                  and r["reason"] == "revoked_key"], what="ITA refusing the revoked key")
        # A later restart finds the very same documents at the hub: nothing to do.
        await fed.nodes.pop("ITA").stop()
        fed.federation = load_federation(home, utcnow())
        again = await fed.start_node("ITA", hub_api_url=url)
        assert again.federation_fetch == {"directory": "current", "revocations": "current"}
    finally:
        await server.close()


async def test_a_hub_serving_an_older_or_forged_document_at_start_up_changes_nothing(
        fed: RunningFederation) -> None:
    home = fed.path / "federation"
    older_directory = (home / DIRECTORY_FILE).read_bytes()
    reissue_directory(home, utcnow())
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    await eventually(lambda: fed.nodes["ITA"].federation.directory.serial == fed.hub.federation.directory.serial,
                     what="ITA applying the newer directory")
    await fed.nodes.pop("ITA").stop()
    held = load_federation(home, utcnow())
    files = {name: (home / name).read_bytes() for name in (DIRECTORY_FILE, REVOCATIONS_FILE)}
    revocations = held.revocations
    # A hostile hub: a genuinely root-signed but older directory, and a revocation list of its own
    # with a higher serial that revokes nothing new (say, to un-revoke a key).
    forged = sign_revocations(RevocationList(revocations.federation, revocations.serial + 5, utcnow(),
                                             utcnow() + timedelta(days=30), frozenset()),
                              held.credentials("HUB").signing_key)
    served = {"directory": older_directory, "revocations": forged}

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=served[request.match_info["kind"]], content_type="application/json")

    hostile = web.Application()
    hostile.router.add_get("/api/federation/{kind}", document)
    server, url = await _served(hostile)
    try:
        fed.federation = held
        ita = await fed.start_node("ITA", hub_api_url=url)
    finally:
        await server.close()
    assert ita.federation_fetch == {"directory": "refused:stale_directory", "revocations": "refused:bad_signature"}
    assert (ita.federation.directory.serial, ita.federation.revocations.serial) \
        == (held.directory.serial, held.revocations.serial)
    assert {name: (home / name).read_bytes() for name in files} == files
    assert [(a["reason"], "bad_signature" in a["detail"]) for a in ita.alarms.active()] == [(FETCH_ALARM, True)]
    # It goes on working with what it holds.
    sent = await fed.nodes["MEX"].send("note", ["ITA"], body={"text": "still in touch"})
    await eventually(lambda: ita.store.get(sent.id), what="MEX's note at ITA")


@pytest.mark.parametrize("served", ["other-kind", "same-serial-other-document", "truncated", "other-federation"])
def test_catch_up_refuses_what_could_not_come_from_the_root_in_succession_and_changes_nothing(
        tmp_path: Path, served: str) -> None:
    """`federation_state.catch_up` on its own (no broker): each refusal with its reason, the file, the
    row of accepted serials and the federation in use unchanged."""
    home = tmp_path / "federation"
    init_federation(home, "somex-test", ["MEX", "IDN"], utcnow())
    held = load_federation(home, utcnow())
    engine = make_engine(f"sqlite:///{tmp_path / 'MEX.db'}")
    admit_federation(engine, held, utcnow(), "MEX")
    files = {name: (home / name).read_bytes() for name in (DIRECTORY_FILE, REVOCATIONS_FILE)}
    kind, raw, reason = {
        "other-kind": ("revocations", files[DIRECTORY_FILE], "malformed"),
        "same-serial-other-document": ("revocations", sign_revocations(
            RevocationList(held.revocations.federation, held.revocations.serial, utcnow(),
                           utcnow() + timedelta(days=30), frozenset({"ab" * 32})), load_root_key(home)),
            "stale_revocations"),
        "truncated": ("directory", files[DIRECTORY_FILE][:-7], "malformed"),
        "other-federation": ("revocations", sign_revocations(
            RevocationList("elsewhere", held.revocations.serial + 3, utcnow(), utcnow() + timedelta(days=30),
                           frozenset()), load_root_key(home)), "wrong_federation"),
    }[served]
    with engine.connect() as conn:
        rows_before = conn.execute(select(held_documents).order_by(held_documents.c.kind)).fetchall()
    with pytest.raises(DirectoryError) as refused:
        catch_up(engine, held, raw, kind, utcnow(), "MEX")
    assert refused.value.reason == reason
    with engine.connect() as conn:
        assert conn.execute(select(held_documents).order_by(held_documents.c.kind)).fetchall() == rows_before
    assert {name: (home / name).read_bytes() for name in files} == files
    # The very documents in use: nothing to do, nothing written.
    assert catch_up(engine, held, files[DIRECTORY_FILE], "directory", utcnow(), "MEX") == (held, None)
    engine.dispose()
