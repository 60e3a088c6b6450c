"""Mutual legal assistance and extradition requests (UNTOC article 18): the central authority."""

from pathlib import Path

from nodes.national.feature import ConsolePages, Feature
from nodes.national.features.mla import api, authority, console

FEATURE = Feature(
    name="mla",
    tables=(authority.metadata,),
    service=authority.CentralAuthority,
    effects={"mla.request": authority.on_request, "mla.status": authority.on_event,
             "mla.response": authority.on_event},
    receipt_effects=(authority.on_receipt,),
    read_hooks={"mla.request": authority.on_opened},
    awaiting_action=authority.awaiting_action,
    tasks=(authority.watch,),
    routes=lambda app, ctx: api.add_routes(app, ctx.service),
    console=ConsolePages(("MLA", "/console/mla"), lambda app, ctx: console.add_routes(app, ctx.service),
                         templates=Path(__file__).parent / "templates", position=10),
)
