"""The structured codes the consoles show, by family, taken from the protocol's own tables: each
(family, code) is a catalog entry `msgctxt family / msgid code` whose msgstr is its label, in
English too. A code added to the protocol without a label fails tests/unit/test_translations.py.
Reason codes come from docs/reason-codes.md (the one place they are documented)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from protocol import alerts, cases, messages, mla, person, profiles
from protocol.schema import List, Nullable, Obj

REASON_CODES_DOC = Path(__file__).resolve().parents[2] / "docs" / "reason-codes.md"


def _fields(schema: Any, into: set[str]) -> set[str]:
    """Every member name of an object schema, nested ones too."""
    if isinstance(schema, Obj):
        for name, inner in {**schema.required, **schema.optional}.items():
            into.add(name)
            _fields(inner, into)
    elif isinstance(schema, List):
        _fields(schema.item, into)
    elif isinstance(schema, Nullable):
        _fields(schema.inner, into)
    return into


def _case_fields() -> set[str]:
    return _fields(Obj(**cases._CASE_FIELDS), set())  # noqa: SLF001 — the case's own member table


def _person_fields() -> set[str]:
    """Every member of a person alert (create, update, withdraw; its subject and names) and a person hit."""
    tables = (person.RECORD_FIELDS, person.WITHDRAW_FIELDS, person.SUBJECT_FIELDS, person.NAME_FIELDS)
    return {name for table in tables for part in table.values() for name in part} | _fields(person.PERSON_HIT, set())


def families() -> dict[str, tuple[str, ...]]:
    """Family → its codes, in the protocol's order."""
    events = sorted({rule.event for rule in mla.RULES})
    return {
        "message_type": tuple(sorted(messages.REGISTRY)),
        "mla_kind": mla.KINDS,
        "legal_basis": mla.LEGAL_BASES,
        "mla_offence": mla.OFFENCES + mla.AGGRAVATING,
        "measure": mla.MEASURES,
        "urgency": mla.URGENCIES,
        "person_role": tuple(dict.fromkeys(mla.PERSON_ROLES + cases.ROLES)),
        "refusal_ground": mla.REFUSAL_GROUNDS,
        "mla_state": tuple(state.value for state in mla.State),
        # What happened to a request, for its timeline: the protocol's events, the node's own
        # (arrival, receipts, no delivery evidence in time).
        "mla_event": tuple(dict.fromkeys(["submit", "receive", *events, "receipt.delivered", "receipt.retrieved",
                                          "receipt.refused"])),
        # The buttons that send an event (imperative: "Acknowledge", "Refuse").
        "mla_action": tuple(events),
        # One word per sent message in the Sent list (nodes/national/delivery.py `states`).
        "delivery_state": ("pending", "overdue", "receipted", "rejected"),
        # A large evidence file's state (nodes/national/features/files/transfers.py: files_out
        # waiting/sending/complete/failed, files_in receiving/complete/failed).
        "file_state": ("waiting", "sending", "receiving", "complete", "failed"),
        # An alert feed job (nodes/national/feeds.py).
        "feed_status": ("running", "done", "failed"),
        "receipt_kind": ("delivered", "retrieved", "refused"),
        "handling": tuple(sorted(set(cases.HANDLING_CODES) | set(person.HANDLING_CODES))),
        "alert_status": alerts.STATUSES,
        "alert_action": alerts.ACTIONS,
        "document_type": alerts.DOCUMENT_TYPES,
        # A document check (alert.hit) or a border check (person.hit, which adds "carrier").
        "check_kind": tuple(dict.fromkeys(alerts.CHECK_KINDS + person.CHECK_KINDS)),
        "case_offence": cases.OFFENCES + cases.AGGRAVATING,
        "case_event": cases.EVENT_KINDS,
        "source_reliability": cases.SOURCE_RELIABILITY,
        "person_basis": person.BASES,
        "person_action": person.ACTIONS,
        "sex": person.SEXES,
        # How the alert's date of birth compares with the one checked (a person.hit's date_of_birth).
        "date_of_birth_agreement": person.DATE_OF_BIRTH_AGREEMENTS,
        # The hub's audit log (nodes/hub/audit.py: its verdicts and LEAF_FIELDS, checked equal by
        # tests/unit/test_translations.py; the plumbing does not import the hub).
        "verdict": ("accepted", "rejected", "issued", "dead_lettered", "unroutable", "requeued"),
        "entry_field": ("seq", "message_id", "type", "sender", "broker_user", "recipients", "thread", "digest", "kid",
                        "verdict", "reason", "detail", "received_at", "header", "handling"),
        "signer_role": ("hub", "witness"),
        # A competent-authority profile's urgent channels (art. 18(13)).
        "urgent_channel": profiles.URGENT_CHANNELS,
        "field": tuple(sorted(_case_fields() | _fields(mla.REQUEST, set()) | set(alerts.FIELDS) | _person_fields())),
    }


_CODE_CELL = re.compile(r"`([a-z][a-z0-9_.]*)`")


def reason_codes(doc: Path = REASON_CODES_DOC) -> tuple[str, ...]:
    """The reason codes of docs/reason-codes.md: the backticked codes in each table's first column."""
    found: dict[str, None] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            for code in _CODE_CELL.findall(line.split("|")[1]):
                found[code] = None
    return tuple(found)


def sentences() -> tuple[str, ...]:
    """Whole sentences the protocol hands to people (the handling codes' notices), catalogued as
    they are written and shown through the `say` filter."""
    return tuple(cases.NOTICES.values())


def all_codes(doc: Path = REASON_CODES_DOC) -> dict[str, tuple[str, ...]]:
    return {**families(), "reason": reason_codes(doc)}
