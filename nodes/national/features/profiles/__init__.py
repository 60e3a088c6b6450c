"""Competent-authority profiles (UNTOC arts. 16(5), 18(13), 18(14); issue 17 part 2): each State
publishes what it accepts, signed by its own node key and broadcast as `profile.publish`; every node
keeps the newest of each and the MLA composer checks requests against it (docs/profiles.md)."""

from nodes.national.feature import CliCommand, ConsolePages, Feature
from nodes.national.features.profiles import api, book, cli, console, demo, store

FEATURE = Feature(
    name="profiles",
    tables=(store.metadata,),
    service=book.ProfileBook,
    effects={"profile.publish": book.on_profile},
    routes=api.add_routes,
    console=ConsolePages(("Profiles", "/console/profiles"), console.add_routes, templates=console.TEMPLATES,
                         position=50),
    cli=(CliCommand("profile", cli.add_parser, cli.run),),
    demo_steps=(demo.mex_publishes_its_profile,),
    demo_position=15,  # before MLA's (20): its request is checked against MEX's profile
)
