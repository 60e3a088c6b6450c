"""A revoked witness in a running federation (issue 24): once the root's revocation list naming its
key is published, the hub neither waits for its cosignature nor counts it, and the auditor's export
verifies offline. Before, the all-witness default quorum (MEX, IDN, ITA) could never be met again."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from crypto.audit_bundle import verify_bundle
from nodes.hub.api import make_app
from nodes.hub.publication import publish_federation_document
from nodes.app.root_operator import revoke
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation import REVOCATIONS_FILE
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


async def test_a_revoked_witness_no_longer_blocks_the_quorum_at_the_hub_or_in_the_bundle(fed: RunningFederation) -> None:
    home = fed.federation.path
    revoke(home, fed.federation.credentials("ITA").signing_key.kid, utcnow())
    await publish_federation_document(fed.hub, (home / REVOCATIONS_FILE).read_bytes())
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "after ITA's revocation"}, thread="case-rev")
    got = await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="delivery")

    server = TestServer(make_app(fed.hub))
    await server.start_server()
    auditor = {"Authorization": f"Bearer {fed.federation.credentials('HUB').tokens['auditor']}"}
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            async def witnessed_export():  # noqa: ANN202
                async with http.get("/api/audit/export", params={"thread": "case-rev"}, headers=auditor) as r:
                    if r.status != 200:
                        return None
                    bundle = await r.json()
                report = verify_bundle(json.loads(json.dumps(bundle)), fed.federation.root_cert)
                covered = report.witnessed_size is not None and report.witnessed_size > got.log_index
                return (bundle, report) if report.ok and covered else None

            bundle, report = await eventually(witnessed_export, timeout=30, what="a witnessed export without ITA")
    finally:
        await server.close()
    assert report.witnesses == ["IDN", "MEX"] and report.quorum_required == 2
    assert "revocations" in bundle
    assert any(c["message_id"] == sent.id for c in report.proven.values())
