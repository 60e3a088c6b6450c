"""The one place the command line builds its HTTP clients for the hub's and the nodes' APIs.

A hub or node that serves HTTPS (`--tls-cert/--tls-key`) records its base URL when it starts
(`record_endpoint`, STATE/hub/api-endpoint.json or STATE/nodes/<ID>/api-endpoint.json); clients
take the URL from there and check the server's certificate against `--cacert` (default: the
federation's root certificate, which certifies the TLS CA). Verification is never turned off;
a certificate the CA does not vouch for is `ApiTrustError`, one line for the operator.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from nodes.plumbing.private_files import private_dir, write_private

ENDPOINT_FILE = "api-endpoint.json"


class ApiTrustError(Exception):
    """The server's certificate does not verify against the CA the client was given."""


def endpoint_file(state_dir: Path, node_id: str) -> Path:
    return state_dir / ("hub" if node_id == "HUB" else f"nodes/{node_id}") / ENDPOINT_FILE


def record_endpoint(path: Path, url: str) -> None:
    """Written by a serving hub or node: where its API answers (scheme, host, port), for the clients."""
    private_dir(path.parent)
    write_private(path, json.dumps({"url": url}) + "\n")


def api_base(state_dir: Path, node_id: str, port: int) -> str:
    """The API base URL of `node_id` on this machine: the one it recorded when it started serving on
    `port`, else plain HTTP on loopback (a record for another port is an older run's)."""
    path = endpoint_file(state_dir, node_id)
    if path.is_file():
        url = str(json.loads(path.read_text()).get("url", ""))
        if url.startswith(("http://", "https://")) and url.rstrip("/").endswith(f":{port}"):
            return f"{url.rstrip('/')}/api"
    return f"http://127.0.0.1:{port}/api"


def default_cacert(federation_dir: Path) -> Path:
    """What a client trusts by default: the federation root (the TLS CA's certificate is in the chain
    every server presents)."""
    return federation_dir / "root" / "root.crt"


def client_ssl_context(cacert: Path) -> ssl.SSLContext:
    """Server verification against `cacert` only, its name checked, TLS 1.2 at least."""
    if not cacert.is_file():
        raise ApiTrustError(f"the CA certificate {cacert} does not exist: pass --cacert with the CA that issued the "
                            "server's certificate")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cacert))
    except ssl.SSLError as exc:
        raise ApiTrustError(f"{cacert} is not a PEM CA certificate ({exc.reason or exc})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def api_session(cacert: Path, **kwargs: object) -> aiohttp.ClientSession:
    """An aiohttp session whose HTTPS connections verify the server against `cacert` (plain HTTP
    URLs, the development default, are unaffected)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl_context(cacert)), **kwargs)


def trust_failure(exc: aiohttp.ClientConnectorCertificateError, cacert: Path | None) -> str:
    """The one line an operator reads when the server's certificate does not verify."""
    ca = str(cacert) if cacert else "the federation root (STATE_DIR/federation/root/root.crt)"
    return (f"the server at {exc.host}:{exc.port} presented a certificate that {ca} does not vouch for "
            f"({getattr(exc.certificate_error, 'verify_message', None) or exc.certificate_error}): pass --cacert "
            "with the CA that issued it; verification is never skipped")


def add_cacert_argument(parser: object) -> None:
    parser.add_argument("--cacert", type=Path,  # type: ignore[attr-defined]
                        help="the CA certificate (PEM) the HTTPS server's certificate must chain to "
                             "(default: the federation root, STATE_DIR/federation/root/root.crt)")


class Unreachable(Exception):
    """A peer's API did not answer (transport failure), or answered more than the caller accepts."""


async def get_bounded(http: aiohttp.ClientSession, url: str, limit: int,
                      params: dict[str, Any] | None = None) -> tuple[int, bytes]:
    """GET `url`: (status, body), reading at most `limit` bytes of the body, so a hostile or broken
    peer cannot make this process hold an answer of any size."""
    try:
        async with http.get(url, params=params) as response:
            status, raw = response.status, await response.content.read(limit + 1)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Unreachable(f"{url}: {exc.__class__.__name__} {exc}") from None
    if len(raw) > limit:
        raise Unreachable(f"{url} answered more than {limit} bytes")
    return status, raw
