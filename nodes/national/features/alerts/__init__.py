"""Lost and stolen document alerts: the replica, border checks, hits, and alert feeds."""

from pathlib import Path

from nodes.national.feature import CliCommand, ConsolePages, Feature
from nodes.national.features.alerts import api, cli, console, demo, feeds, replica

FEATURE = Feature(
    name="alerts",
    tables=(replica.metadata, feeds.metadata, console.metadata),
    service=replica.Alerts,
    effects=replica.EFFECTS,
    batch_effects=replica.BATCH_EFFECTS,
    purges=(replica.purge,),
    on_stop=replica.close,
    routes=api.add_routes,
    console=ConsolePages(("Alerts", "/console/alerts"), console.add_routes,
                         templates=Path(__file__).parent / "templates", position=30),
    cli=(CliCommand("feed", cli.add_parser, cli.run),),
    demo_steps=(demo.stolen_passport_checks,),
    demo_position=30,
)
