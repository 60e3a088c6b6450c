"""Issue 17 part 3 in the console: the MLA request page lists the thread's large evidence files in
and out (name, size, chunks done of all, state and reason, in the reader's language) and offers a
download only of a complete, verified incoming file, through the console's own session route."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.national.api import make_app as make_node_app
from protocol import files as protocol_files
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_console_access import log_in
from tests.integration.test_evidence_files import (
    carrier_with, random_file, received, ref_of, refused_with, send_chunk, send_request_with_file, sent,
)

pytestmark = pytest.mark.integration
MiB = 1024 * 1024


def client(lang: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    session.cookie_jar.update_cookies({"somex_lang": lang})
    return session


def file_row(html: str, carrier: str) -> str:
    found = re.search(rf'<tr data-direction="\w+" data-state="\w+" data-carrier="{carrier}" data-n="0">(.*?)</tr>',
                      html, re.S)
    assert found, f"no row of file {carrier} in the page"
    return found.group(0)


async def test_the_request_page_lists_the_files_and_downloads_only_a_complete_one(fed: RunningFederation,
                                                                                tmp_path: Any) -> None:
    ita, mex = fed.nodes["ITA"], fed.nodes["MEX"]
    path = str(tmp_path / "evidence.bin")
    size = protocol_files.CHUNK_BYTES + 4321  # two chunks
    sha256 = random_file(path, size)
    created = await send_request_with_file(ita, path, "ITA-FILE-CONSOLE")
    await eventually(lambda: (received(mex, created["id"]) or {}).get("state") == "complete", timeout=60,
                     what="the file complete at MEX")
    await eventually(lambda: (sent(ita, created["id"]) or {}).get("state") == "complete", what="ITA sees it complete")
    data = os.urandom(2 * protocol_files.CHUNK_BYTES)
    bad = await carrier_with(fed, "ITA-FILE-BAD", ref_of(data, name="<b>bad.bin"))
    tampered = bytearray(data[:protocol_files.CHUNK_BYTES])
    tampered[7] ^= 1
    assert await refused_with(fed, await send_chunk(fed, bad, 0, bytes(tampered), chunks=2)) == "chunk_digest_mismatch"

    servers = {c: TestServer(make_node_app(fed.nodes[c])) for c in ("ITA", "MEX")}
    for server in servers.values():
        await server.start_server()
    try:
        base = {c: str(s.make_url("")).rstrip("/") for c, s in servers.items()}
        async with client("fr") as s:
            assert (await log_in(s, base["MEX"], mex.creds.tokens["focal"])).status == 303
            async with s.get(f"{base['MEX']}/console/mla/{created['id']}") as r:
                page = await r.text()
            row = file_row(page, created["id"])
            assert 'data-direction="in" data-state="complete"' in row
            assert f'<a href="/console/mla/files/{created["id"]}/0" download>phone-image.bin</a>' in row
            assert "reçu de Italie" in row and "2 sur 2 fragments" in row and "complet" in row
            assert "<td>4,0\u00a0MiB</td>" in row, row
            async with s.get(f"{base['MEX']}/console/mla/files/{created['id']}/0") as r:
                assert r.status == 200 and r.headers["X-Content-SHA256"] == sha256
                assert r.headers["Content-Type"] == "application/octet-stream"
                assert hashlib.sha256(await r.read()).hexdigest() == sha256
            # the failed file: its state and reason in French, no link, and the route refuses it
            async with s.get(f"{base['MEX']}/console/mla/{bad.id}?partial=1") as r:
                row = file_row(await r.text(), bad.id)
            assert 'data-state="failed"' in row and "échoué" in row and "<code>chunk_digest_mismatch</code>" in row
            assert "<a " not in row and "&lt;b&gt;bad.bin" in row
            async with s.get(f"{base['MEX']}/console/mla/files/{bad.id}/0") as r:
                refused = await r.text()
                assert r.status == 409 and "<code>chunk_digest_mismatch</code>" in refused
            async with s.get(f"{base['MEX']}/console/mla/files/{bad.id}/1") as r:
                assert r.status == 404
        async with client("en") as s:  # the sender's page: the file sent, complete, nothing to download
            assert (await log_in(s, base["ITA"], ita.creds.tokens["focal"])).status == 303
            async with s.get(f"{base['ITA']}/console/mla/{created['id']}") as r:
                row = file_row(await r.text(), created["id"])
            assert 'data-direction="out" data-state="complete"' in row and "sent to Mexico" in row
            assert "2 of 2 chunks" in row and "<a " not in row
            async with s.get(f"{base['ITA']}/console/mla/files/{created['id']}/0") as r:
                assert r.status == 404  # not a file this node received
    finally:
        for server in servers.values():
            await server.close()
