"""Migrant-smuggling case information (Protocol art. 10): shares, permissions, joint investigations."""

from pathlib import Path

from nodes.national.feature import ConsolePages, Feature
from nodes.national.features.cases import api, console, demo, store

FEATURE = Feature(
    name="cases",
    tables=(store.metadata,),
    effects={"case.share": store.on_share, "case.withdraw": store.on_withdraw,
             "case.permission": store.on_permission, "case.jit": store.on_jit, "case.message": store.on_jit_message},
    read_hooks={"case.share": store.on_opened},
    purges=(store.purge,),
    routes=api.add_routes,
    console=ConsolePages(("Cases", "/console/cases"), console.add_routes,
                         templates=Path(__file__).parent / "templates", position=20),
    demo_steps=(demo.case_scenario,),
    demo_position=10,
)
