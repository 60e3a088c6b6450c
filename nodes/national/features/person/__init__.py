"""Person alerts and border checks (COP resolution 6/3 paragraph 16): the replica of received
`person.alert` messages, the border check that matches names across scripts (names.py), hits
told to the issuer (`person.hit`), the carrier's hit / no-hit view, the console's border check
page. Everything the node needs of it is declared by `FEATURE` (docs/person-alerts.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from crypto.signing import VerifiedEnvelope
from nodes.national.feature import CliCommand, ConsolePages, Feature, FeatureContext
from nodes.national.features.person import api, cli, console, demo, store
from nodes.national.features.person.check import BorderChecks
from nodes.plumbing.config import utcnow
from protocol.person import DEFAULT_REVIEW_YEARS, MAX_REVIEW_YEARS
from protocol.retention import MAXIMUM_DAYS
from protocol.timefmt import format_time


def apply_person_alert(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                       body: Mapping[str, Any] | None) -> None:
    """A person alert addressed to this country (its issuer and addressing checked by the inbox's
    body rule): merged into the replica by version."""
    assert body is not None
    env = verified.envelope
    applied = store.apply_alert(conn, body, created=env.created, message_id=env.id)
    ctx.log.info("person alert applied" if applied else "older person alert version ignored", message_id=env.id,
                 issuer=body["issuer"], action=body["action"])


def record_person_hit(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
                      body: Mapping[str, Any] | None) -> None:
    """Another country's border check matched one of this country's person alerts."""
    assert body is not None
    env = verified.envelope
    store.record_hit(conn, body, message_id=env.id, sender=env.sender, received_at=format_time(utcnow()))
    ctx.log.warning("a person alert of this country was matched at a border", message_id=env.id, by=env.sender,
                    national_reference=body["national_reference"], score=body["score"])


async def send_hit_reports(ctx: FeatureContext) -> None:
    """The border checks' hit reports, signed and queued after their answers (reports.py)."""
    await ctx.service.reporter.run()


def purge(ctx: FeatureContext, now: datetime) -> Mapping[str, int]:
    """Alerts past their review date; hits and check-log entries past the hit retention."""
    before = format_time(now - timedelta(days=MAXIMUM_DAYS["person.hit"]))
    return {"person_alerts": store.purge_expired(ctx.db, now.date().isoformat()),
            **store.purge_hits_and_checks(ctx.db, before)}


def _review_years_problem(settings: Mapping[str, Any]) -> str | None:
    years = settings["review_default_years"]
    if not 1 <= years <= MAX_REVIEW_YEARS:
        return f"review_default_years: 1..{MAX_REVIEW_YEARS} (an alert is reviewed at most {MAX_REVIEW_YEARS} years on)"
    return None


FEATURE = Feature(
    name="person",
    tables=(store.metadata,),
    service=BorderChecks,
    effects={"person.alert": apply_person_alert, "person.hit": record_person_hit},
    tasks=(send_hit_reports,),
    purges=(purge,),
    on_stop=lambda ctx: ctx.service.close(),
    routes=api.add_routes,
    console=ConsolePages(nav=("Border check", "/console/border"), add_routes=console.add_routes,
                         templates=console.TEMPLATES, position=40),
    cli=(CliCommand("person", cli.add_parser, cli.run),),
    demo_steps=(demo.person_alert_at_the_border,),
    demo_position=40,
    # The review date this country's alerts get when the focal point gives none (node config file:
    # {"features": {"person": {"review_default_years": 2}}}); the protocol's default is 3, its limit 5.
    settings={"review_default_years": DEFAULT_REVIEW_YEARS},
    check_settings=_review_years_problem,
)
