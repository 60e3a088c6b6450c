"""Long-running processes: a national node or the hub, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import ssl
from pathlib import Path

import structlog
from aiohttp import web

from nodes.plumbing.config import HttpsFiles, HubConfig, NodeConfig
from nodes.plumbing.heap import settle_heap, tune_malloc
from nodes.plumbing.private_files import restrict_umask

log = structlog.get_logger("somex")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def https_context(files: HttpsFiles) -> ssl.SSLContext:
    """The server side of HTTPS: TLS 1.2 or newer, the given certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.cert_file), str(files.key_file))
    return context


async def start_http(app: web.Application, host: str, port: int, https: HttpsFiles | None) -> tuple[web.AppRunner, str]:
    """Serve `app` on host:port, over HTTPS when given its files; the runner and the base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=https_context(https) if https else None)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, f"{'https' if https else 'http'}://{host}:{port}"


def _record_endpoint(path: Path | None, url: str) -> None:
    """Tell this machine's clients where the API answers, and whether over HTTPS (api_client.py)."""
    if path is not None:
        from nodes.plumbing.api_client import record_endpoint

        record_endpoint(path, url)


async def serve_node(config: NodeConfig) -> None:
    from nodes.national.api import make_app
    from nodes.national.node import NationalNode

    restrict_umask()  # also when served from another entry point than the CLI
    tune_malloc()
    node = NationalNode(config)
    await node.start()
    runner, url = await start_http(make_app(node), config.http_host, config.http_port, config.https)
    _record_endpoint(config.api_record, url)
    log.info("node API listening", node=config.country, url=f"{url}/api")
    settle_heap()
    try:
        await _until_signalled()
    finally:
        log.info("node stopping", node=config.country)
        await runner.cleanup()
        await node.stop()


async def serve_hub(config: HubConfig) -> None:
    from nodes.hub.relay import Hub

    from nodes.hub.api import make_app

    restrict_umask()
    tune_malloc()
    hub = Hub(config)
    await hub.start()
    runner = None
    if config.http_port:
        runner, url = await start_http(make_app(hub), config.http_host, config.http_port, config.https)
        _record_endpoint(config.api_record, url)
        log.info("hub API listening", url=f"{url}/api")
    settle_heap()
    try:
        await _until_signalled()
    finally:
        log.info("hub stopping")
        if runner is not None:
            await runner.cleanup()
        await hub.stop()
