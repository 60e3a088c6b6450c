"""HTTPS for the hub's and the nodes' APIs and consoles (`--tls-cert`/`--tls-key`): served by the
same code path as `somex hub run` / `somex node run` (serve.start_http), console cookies Secure."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from nodes.plumbing.console import cookie_name
from nodes.plumbing.config import HttpsFiles, utcnow
from nodes.plumbing.federation import TLS_CERT_FILE, TLS_KEY_FILE
from nodes.app.root_operator import tls_ca, write_tls_pair
from nodes.plumbing.rabbit import free_port
from nodes.app.serve import start_http
from tests.integration.federation import RunningFederation

pytestmark = pytest.mark.integration


def _https_files(fed: RunningFederation, tmp_path: Path) -> HttpsFiles:
    home = tmp_path / "https"
    home.mkdir()
    write_tls_pair(home, *tls_ca(fed.path / "federation"), "MEX", utcnow(), server_names=["127.0.0.1"])
    return HttpsFiles(home / TLS_CERT_FILE, home / TLS_KEY_FILE)


def _trusting(fed: RunningFederation) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(fed.federation.root_cert_file))


async def test_node_api_and_console_over_https_with_secure_cookies(fed: RunningFederation, tmp_path: Path) -> None:
    runner, base = await start_http(make_node_app(fed.nodes["MEX"]), "127.0.0.1", free_port(),
                                    _https_files(fed, tmp_path))
    tokens = fed.federation.credentials("MEX").tokens
    try:
        assert base.startswith("https://")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.get(f"{base}/api/health", ssl=_trusting(fed),
                             headers={"Authorization": f"Bearer {tokens['focal']}"}) as r:
                assert r.status == 200
                assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
            async with s.post(f"{base}/console/login", data={"token": tokens["focal"]}, ssl=_trusting(fed),
                              allow_redirects=False) as r:
                assert r.status == 303
                cookie = r.cookies[cookie_name("MEX")]
                assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
            async with s.get(f"{base}/console/", ssl=_trusting(fed)) as r:
                assert r.status == 200  # the Secure cookie goes back over HTTPS
            with pytest.raises(aiohttp.ClientError):  # plain HTTP on the same port gets no answer
                async with s.get(base.replace("https://", "http://") + "/api/health") as r:
                    await r.read()
    finally:
        await runner.cleanup()


async def test_hub_console_over_https(fed: RunningFederation, tmp_path: Path) -> None:
    runner, base = await start_http(make_hub_app(fed.hub), "127.0.0.1", free_port(), _https_files(fed, tmp_path))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{base}/console/login", ssl=_trusting(fed)) as r:
                assert r.status == 200 and r.headers["Strict-Transport-Security"]
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # a client that trusts another CA refuses
                async with s.get(f"{base}/console/login", ssl=ssl.create_default_context()) as r:
                    await r.read()
    finally:
        await runner.cleanup()


async def test_plain_http_console_cookies_are_not_secure(fed: RunningFederation) -> None:
    runner, base = await start_http(make_node_app(fed.nodes["MEX"]), "127.0.0.1", free_port(), None)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.post(f"{base}/console/login", data={"token": fed.federation.credentials("MEX").tokens["focal"]},
                              allow_redirects=False) as r:
                assert r.status == 303 and not r.cookies[cookie_name("MEX")]["secure"]
                assert "Strict-Transport-Security" not in r.headers
    finally:
        await runner.cleanup()
