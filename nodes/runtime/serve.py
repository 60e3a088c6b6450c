"""Long-running processes: a national node or the hub, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from nodes.runtime.config import HubConfig, NodeConfig
from nodes.runtime.private_files import restrict_umask

log = structlog.get_logger("somex")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_node(config: NodeConfig) -> None:
    from nodes.national.api import make_app
    from nodes.national.node import NationalNode

    restrict_umask()  # also when served from another entry point than the CLI
    node = NationalNode(config)
    await node.start()
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.http_host, config.http_port)
    await site.start()
    log.info("node API listening", node=config.country, url=f"http://{config.http_host}:{config.http_port}/api")
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
    hub = Hub(config)
    await hub.start()
    runner = None
    if config.http_port:
        runner = web.AppRunner(make_app(hub), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, config.http_host, config.http_port).start()
        log.info("hub API listening", url=f"http://{config.http_host}:{config.http_port}/api")
    try:
        await _until_signalled()
    finally:
        log.info("hub stopping")
        if runner is not None:
            await runner.cleanup()
        await hub.stop()
