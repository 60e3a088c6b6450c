"""Mutual legal assistance and extradition requests (UNTOC article 18): the central authority."""

from datetime import timedelta
from pathlib import Path

from nodes.national.feature import CliCommand, ConsolePages, Feature
from nodes.national.features.mla import api, authority, cli, console, demo

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
    cli=(CliCommand("mla", cli.add_parser, cli.run),),
    demo_steps=(demo.trace_and_freeze_proceeds,),
    demo_position=20,
    settings={"mla_delivery_timeout": timedelta(hours=24),  # no delivery receipt by then: not_delivered
              "mla_due_soon": timedelta(days=3),  # a deadline this close is listed and reminded
              "mla_sweep_interval": 60.0},  # seconds between checks of delivery timeouts and deadlines
)
