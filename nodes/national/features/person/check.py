"""The border check (POST /api/border/check): a document or a machine-readable zone, optionally a
name and a birth date, checked at once against the document-alert replica and the person-alert
replica. A person match is scored and explained; the issuer of a matched alert is told
(`person.hit`), and the check is written to the access log before the answer leaves, with its hit
reports held for the reporter (reports.py), which signs and queues them after the answer.

`read_query` is the request's one reader: every input fault is a `BadBorderCheck` with a reason
code (docs/reason-codes.md) and, for a zone, every bad check digit named.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from nodes.national import reads
from nodes.national.feature import FeatureContext
from nodes.national.features.person import store
from nodes.national.features.person.reports import Reporter
from nodes.national.features.person.names import NameMatch, PersonName, compare, index_keys
from nodes.plumbing.config import new_message_id, utcnow
from protocol import mrz as zones
from protocol.alerts import CHECK_KINDS as DOCUMENT_CHECK_KINDS
from protocol.alerts import DOCUMENT_TYPES, MAX_NUMBER_CHARS, normalise_document_number
from protocol.errors import FieldProblem
from protocol.person import CHECK_KINDS
from protocol.timefmt import format_time

MAX_CANDIDATES = 50  # alerts compared per check; more is said in the answer (`truncated`): add a birth date
MAX_NAME_CHARS = 200
_COUNTRY = re.compile(r"[A-Z]{3}")
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
# Doc 9303 part 3: Germany's code is 'D' in zones; everyone else's is its alpha-3.
_ZONE_STATES = {"D": "DEU"}
FIELDS = frozenset({"document", "mrz", "name", "date_of_birth", "check", "point"})


class BadBorderCheck(Exception):
    """The check's input is wrong: `reason` (a code), `detail`, and for a zone every problem."""

    def __init__(self, reason: str, detail: str, problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.problems = reason, detail, tuple(problems)

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"error": self.reason, "detail": self.detail}
        if self.problems:
            answer["problems"] = [{"field": p.field, "reason": p.reason, "detail": p.detail} for p in self.problems]
        return answer


@dataclass(frozen=True)
class BorderQuery:
    document: tuple[str, str, str] | None  # (issuing country, type, number)
    name: str | None
    date_of_birth: str | None
    check: str
    point: str
    zone: dict[str, Any] | None = None  # what the zone said, for the answer
    notes: tuple[str, ...] = ()


def _document_type(code: str) -> str:
    """The alert vocabulary's type for a zone's document code (P passport; I, A, C identity cards)."""
    if code.startswith("P"):
        return "passport"
    if code[:1] in ("I", "A", "C"):
        return "identity_card"
    return "other"


def read_query(data: Mapping[str, Any], this_year: int) -> BorderQuery:
    """The check asked for, or BadBorderCheck naming what is wrong."""
    unknown = data.keys() - FIELDS
    if unknown:
        raise BadBorderCheck("unknown_field", f"unknown field(s): {sorted(unknown)[:5]}; use {sorted(FIELDS)}")
    if ("document" in data) == ("mrz" in data):
        raise BadBorderCheck("bad_request", "give a document (country, type, number) or an mrz, not both, not none")
    check, point = data.get("check", "border"), data.get("point", "")
    if check not in CHECK_KINDS:
        raise BadBorderCheck("bad_request", f"check: one of {', '.join(CHECK_KINDS)}")
    if not isinstance(point, str) or len(point) > 120:
        raise BadBorderCheck("bad_request", "point: where the check happens, at most 120 characters")
    name, dob = data.get("name"), data.get("date_of_birth")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS):
        raise BadBorderCheck("bad_request", f"name: the traveller's name in any script, 1..{MAX_NAME_CHARS} characters")
    if dob is not None and (not isinstance(dob, str) or not _PARTIAL_DATE.fullmatch(dob)):
        raise BadBorderCheck("bad_request", "date_of_birth: YYYY, YYYY-MM or YYYY-MM-DD")
    if "document" in data:
        return BorderQuery(_document(data["document"]), name, dob, check, point)
    return _from_zone(data["mrz"], name, dob, check, point, this_year)


def _document(value: Any) -> tuple[str, str, str]:
    if not isinstance(value, dict) or value.keys() != {"country", "type", "number"}:
        raise BadBorderCheck("bad_request", "document: an object with country, type and number")
    country, type, number = value["country"], value["type"], value["number"]
    if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
        raise BadBorderCheck("bad_request", "document.country: ISO 3166-1 alpha-3, upper case")
    if type not in DOCUMENT_TYPES:
        raise BadBorderCheck("bad_request", f"document.type: one of {', '.join(DOCUMENT_TYPES)}")
    if not isinstance(number, str) or not 1 <= len(number) <= MAX_NUMBER_CHARS or not normalise_document_number(number):
        raise BadBorderCheck("bad_request", f"document.number: 1..{MAX_NUMBER_CHARS} characters")
    return country, type, number


def _from_zone(text: Any, name: str | None, dob: str | None, check: str, point: str, this_year: int) -> BorderQuery:
    if not isinstance(text, str) or len(text) > zones.MAX_INPUT_CHARS:
        raise BadBorderCheck("bad_mrz", f"mrz: the zone as text, lines separated by line breaks, at most "
                                        f"{zones.MAX_INPUT_CHARS} characters")
    try:
        zone = zones.parse(text)
    except zones.MrzError as error:
        raise BadBorderCheck(error.reason, error.detail, error.problems) from None
    state = _ZONE_STATES.get(zone.issuing_state, zone.issuing_state)
    notes = []
    document = None
    if _COUNTRY.fullmatch(state):
        document = (state, _document_type(zone.document_code), zone.document_number)
    else:
        notes.append(f"issuing state {zone.issuing_state!r} is not a country code: document alerts not checked")
    zone_name = " ".join([zone.primary_identifier, *zone.secondary_identifier]).strip()
    zone_dob = zone.birth_date.partial(this_year)
    return BorderQuery(
        document, name or zone_name or None, dob or zone_dob, check, point,
        zone={"format": zone.format, "document_code": zone.document_code, "issuing_state": zone.issuing_state,
              "document_number": zone.document_number, "nationality": zone.nationality,
              "family_name": zone.primary_identifier, "given_names": " ".join(zone.secondary_identifier),
              "date_of_birth": zone_dob, "sex": zone.sex,
              "expiry_date": zone.expiry_date.partial(this_year, future=True)},
        notes=tuple(notes))


@dataclass
class PersonMatch:
    alert_id: int
    message_id: str
    record: Mapping[str, Any]
    match: NameMatch
    hit_report: str | None = None

    def as_json(self) -> dict[str, Any]:
        m = self.match
        return {"issuer": self.record["issuer"], "national_reference": self.record["national_reference"],
                "score": m.score, "why": m.explanation(), "date_of_birth": m.date_of_birth,
                "query_form": {"text": m.query_form, "method": m.query_method},
                "alert_form": {"text": m.candidate_form, "method": m.candidate_method},
                "tokens": [{"query": t.query, "alert": t.candidate, "similarity": t.similarity} for t in m.tokens],
                "basis": self.record["basis"], "handling_code": self.record["handling_code"],
                "alert": self.record, "hit_report": self.hit_report}


@dataclass
class CheckOutcome:
    reference: str
    query: BorderQuery
    document: dict[str, Any] | None
    matches: list[PersonMatch] = field(default_factory=list)
    truncated: bool = False

    @property
    def hit(self) -> bool:
        return bool(self.matches) or bool(self.document and self.document.get("hit"))

    def as_json(self, country: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"reference": self.reference, "hit": self.hit, "document": self.document,
                                  "person_matches": [m.as_json() for m in self.matches], "truncated": self.truncated,
                                  "checked_name": self.query.name, "checked_date_of_birth": self.query.date_of_birth}
        if self.query.zone is not None:
            answer["mrz"] = self.query.zone
        if self.query.notes:
            answer["notes"] = list(self.query.notes)
        return answer

    def for_carrier(self, country: str) -> dict[str, Any]:
        """What a carrier sees (INTERPOL I-Checkit's model): hit or not, and whom to call with which
        reference; never the record, the score or the issuer."""
        answer: dict[str, Any] = {"reference": self.reference, "hit": self.hit}
        if self.hit:
            answer["call"] = (f"the national focal point of {country}: do not board before you have called, "
                              f"quoting reference {self.reference}")
        return answer


def _document_hit(result: Any, checked_at: str, check: str, point: str) -> dict[str, Any]:
    """The `alert.hit` body for a flagged document (protocol/alerts.py HIT): which alert, when,
    where; nothing about the traveller."""
    return {"issuing_country": result.country, "document_type": result.type, "document_number": result.number,
            "status": result.alert["status"], "checked_at": checked_at, "check": check, "point": point}


class BorderChecks:
    """The feature's service: readers on connections of their own, and the check itself."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self._candidates: store.CandidateReader | None = None
        self._quiet_log: store.QuietCheckLog | None = None
        self._writer: Connection | None = None  # SQLite: the connection hits are logged on
        self._sqlite = ctx.db.dialect.name == "sqlite"
        self._checkpoints = store.WalCheckpoints(ctx.db) if self._sqlite else None
        self.reporter = Reporter(ctx, self._checkpoints)

    def close(self) -> None:
        for reader in (self._candidates, self._quiet_log, self._writer, self.reporter, self._checkpoints):
            if reader is not None:
                reader.close()
        self._candidates = self._quiet_log = self._writer = None

    async def check(self, query: BorderQuery, who: str) -> CheckOutcome:
        today = utcnow().date().isoformat()
        if self._sqlite:  # local index probes: cheaper than a thread hop
            outcome = self._look_up(query, today)
        else:  # round trips to a database server: never on the event loop
            outcome = await asyncio.to_thread(self._look_up, query, today)
        reports = self._hit_reports(outcome)
        touched = query.name is not None or query.zone is not None  # person data: the check is logged
        if self._sqlite and touched and not reports and not outcome.hit:
            self._log_quietly(outcome, who)
        elif self._sqlite and (touched or reports):
            self._log(outcome, who, reports, touched)
        elif touched or reports:
            await asyncio.to_thread(self._log, outcome, who, reports, touched)
        if reports:
            self.reporter.hand(reports)
        for m in outcome.matches:
            self.ctx.log.info("border check matched a person alert", reference=outcome.reference,
                              issuer=m.record["issuer"], score=m.match.score, message_id=m.hit_report)
        return outcome

    def _look_up(self, query: BorderQuery, today: str) -> CheckOutcome:
        reference = f"BC-{secrets.token_hex(6).upper()}"
        document = None
        alerts = self.ctx.service_of("alerts")  # the document-alert replica's public reader
        if query.document is not None and alerts is not None:
            result = alerts.reader.check(*query.document, today)
            document = result.as_json() | {"_result": result}
        outcome = CheckOutcome(reference, query, document)
        if query.name is not None:
            outcome.matches, outcome.truncated = self._match(query, today)
        return outcome

    def _match(self, query: BorderQuery, today: str) -> tuple[list[PersonMatch], bool]:
        if self._candidates is None:
            self._candidates = store.CandidateReader(self.ctx.db, MAX_CANDIDATES)
        traveller = PersonName.of(query.name, None, query.date_of_birth)
        candidates, truncated = self._candidates.candidates(index_keys(traveller), query.date_of_birth, today)
        matches = []
        for c in candidates:
            result = compare(traveller, c.name)
            if result.is_match:
                matches.append(PersonMatch(c.alert_id, c.message_id, c.record, result))
        matches.sort(key=lambda m: (-m.match.score, m.alert_id))
        return matches, truncated

    def _hit_reports(self, outcome: CheckOutcome) -> list[store.HeldReport]:
        """One `person.hit` per matched alert to its issuer, one `alert.hit` for a flagged document:
        their bodies and message ids (the answer names them); the reporter signs them."""
        at = format_time(utcnow())
        reports = []
        kind = outcome.query.check
        for m in outcome.matches:
            body = {"issuer": m.record["issuer"], "national_reference": m.record["national_reference"],
                    "checked_at": at, "check": kind, "point": outcome.query.point,
                    "score": min(100, round(m.match.score * 100)), "date_of_birth": m.match.date_of_birth}
            report = self._report("person.hit", m.record["issuer"], body)
            if report is not None:
                m.hit_report = report.message_id
                reports.append(report)
        document = outcome.document
        if document is not None:
            result = document.pop("_result")
            if result.alert is not None:
                report = self._report("alert.hit", result.country, _document_hit(
                    result, at, kind if kind in DOCUMENT_CHECK_KINDS else "other", outcome.query.point))
                document["hit_report"] = report.message_id if report is not None else None
                if report is not None:
                    reports.append(report)
        return reports

    def _report(self, type: str, issuer: str, body: dict[str, Any]) -> store.HeldReport | None:
        """The report to hold, or None if this node cannot send it to the issuer now (the hit
        still stands): the issuer is not a member, or this node may not send the type. The rest
        of the sending rules are the reporter's (`build`), as for anything sent."""
        directory = self.ctx.directory
        if issuer == self.ctx.country or issuer not in directory.nodes or \
                type not in directory.node(self.ctx.country).allowed_types:
            self.ctx.log.warning("hit not reportable", type=type, issuer=issuer,
                                 detail="the issuer is not a member this node may send it to")
            return None
        return store.HeldReport(new_message_id(), type, issuer, body)

    def _log_quietly(self, outcome: CheckOutcome, who: str) -> None:
        if self._quiet_log is None:
            self._quiet_log = store.QuietCheckLog(self.ctx.db, self._checkpoints)
        self._quiet_log.write(reference=outcome.reference, at=format_time(utcnow()), who=who,
                              check=outcome.query.check, point=outcome.query.point)

    def _log(self, outcome: CheckOutcome, who: str, reports: Sequence[store.HeldReport], touched: bool) -> None:
        """The check in the access log (if it touched person data), the matched alerts in the read
        journal, and the hit reports held: one transaction, committed (synchronous=FULL) before the
        answer leaves. On SQLite, on a connection of the check's own whose commits leave the log's
        checkpoints to a background thread (store.WalCheckpoints)."""
        if not self._sqlite:
            with self.ctx.db.begin() as conn:
                self._write_log(conn, outcome, who, reports, touched)
            return
        if self._writer is None:
            self._writer = store.private_connection(self.ctx.db)
        with self._checkpoints.turn, self._writer.begin():
            self._write_log(self._writer, outcome, who, reports, touched)
        self._checkpoints.committed()

    def _write_log(self, conn: Connection, outcome: CheckOutcome, who: str, reports: Sequence[store.HeldReport],
                   touched: bool) -> None:
        if touched:
            store.log_check(conn, reference=outcome.reference, at=format_time(utcnow()), who=who,
                            check=outcome.query.check, point=outcome.query.point,
                            matches=[(m.record["issuer"], m.record["national_reference"],
                                      round(m.match.score * 100)) for m in outcome.matches],
                            document_hit=bool(outcome.document and outcome.document.get("hit")))
            reads.journal(conn, who, "border_check",
                          [(m.message_id, "person.alert", m.record["issuer"], None) for m in outcome.matches])
        if reports:
            store.hold_reports(conn, reports)
