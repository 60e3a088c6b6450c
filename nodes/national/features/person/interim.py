"""Until the core wires features (nodes/national/feature.py, issue 16 part 1): the node installs
this feature through here. Goes away when node.py discovers `FEATURE` itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from aiohttp import web

from nodes.national.feature import FeatureContext


class _NodeSender:
    def __init__(self, node: Any) -> None:
        self._node = node

    def build(self, type: str, recipients: Sequence[str], **fields: Any) -> Any:
        return self._node.build(type, recipients, **fields)

    def build_sealed(self, type: str, recipients: Sequence[str], payload: Mapping[str, Any], **fields: Any) -> Any:
        return self._node.build_sealed(type, recipients, payload, **fields)

    def sign(self, env: Any) -> Any:
        return self._node.sign(env)

    def open(self, message_id: str, who: str, purpose: str = "read") -> Any:
        from nodes.national.reads import open_message  # noqa: PLC0415
        return open_message(self._node, message_id, who, purpose)


class _NodeOutbox:
    def __init__(self, node: Any) -> None:
        self._node = node

    def enqueue(self, envs: Sequence[Any], conn: Any = None) -> None:
        self._node._enqueue(envs, conn)  # noqa: SLF001 - interim, until the core has a public enqueue

    async def submit(self, envs: Sequence[Any]) -> None:
        await self._node.submit(envs)


def install(node: Any) -> FeatureContext:
    from nodes.national.features.person import FEATURE  # noqa: PLC0415
    ctx = FeatureContext(feature=FEATURE.name, country=node.country, config=node.config, db=node.store.engine,
                         store=node.store, sender=_NodeSender(node), outbox=_NodeOutbox(node), events=node.events,
                         alarms=node.alarms, log=node.log, home=node.creds.home, federation=lambda: node.federation)
    FEATURE.tables.create_all(node.store.engine)
    ctx.service = FEATURE.service(ctx)
    for type, effect in FEATURE.effects.items():
        node.effects[type] = lambda n, conn, verified, body, effect=effect: effect(ctx, conn, verified, body)
    return ctx


def mount(app: web.Application, ctx: FeatureContext) -> None:
    from nodes.national.features.person import FEATURE  # noqa: PLC0415
    FEATURE.routes(app, ctx)


def mount_console(app: web.Application, ctx: FeatureContext, env: jinja2.Environment) -> None:
    from nodes.national.features.person import FEATURE  # noqa: PLC0415
    env.loader.loaders.append(jinja2.FileSystemLoader(FEATURE.console.templates))
    FEATURE.console.add_routes(app, ctx)
