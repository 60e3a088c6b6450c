"""protocol/mla.py (issue 24): the composition check of a new request, word for word (the measure and
the field a focal point must fill in), and the survivors of the MLA rules' mutation run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from protocol import mla
from protocol.errors import PolicyError


def composed(measures: list[str] | None, details: dict | None, **extra) -> dict:  # noqa: ANN003
    return {"measures": measures, "measure_details": details, "language": "en", **extra}


def refusal(body: dict) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        mla.check_composition(body)
    return caught.value


def test_a_request_without_a_language_is_refused_saying_what_the_field_is() -> None:
    err = refusal({"measures": ["surrender"], "measure_details": {"surrender": {"person": "p", "warrant": "w"}}})
    assert (err.reason, err.detail) == ("bad_body", "$.language: required (the ISO 639-1 code of the request's "
                                                    "language)")


def test_an_unknown_language_is_named_as_the_requests_language_field() -> None:
    err = refusal(composed(["surrender"], {"surrender": {"person": "p", "warrant": "w"}}, language="qq"))
    assert (err.reason, err.detail) == ("unknown_language", "language[0]: 'qq' is not an ISO 639-1 language code")


def test_details_for_measures_not_requested_are_named_in_order() -> None:
    details = {"surrender": {"person": "p", "warrant": "w"}, "freezing": {"assets": "a"},
               "confiscation": {"assets": "a", "order": "o"}}
    err = refusal(composed(["surrender"], details))
    assert (err.reason, err.detail) == ("bad_body", "measure_details for a measure not requested: confiscation, "
                                                    "freezing")
    err = refusal(composed(None, {"freezing": {"assets": "a"}}))
    assert err.detail == "measure_details for a measure not requested: freezing"


def test_the_missing_field_is_named_with_its_alternatives_and_where_to_put_it() -> None:
    err = refusal(composed(["asset_tracing"], {"asset_tracing": {"institution": "Banco"}}))
    assert (err.reason, err.detail) == ("measure_field_missing", "asset_tracing: account or holder is required "
                                                                 "(measure_details.asset_tracing.account)")
    err = refusal(composed(["witness_hearing"], {"witness_hearing": {"person": "p", "questions": " \n"}}))
    assert err.detail == "witness_hearing: questions is required (measure_details.witness_hearing.questions)"
    err = refusal(composed(["surrender"], None))
    assert err.detail == "surrender: person is required (measure_details.surrender.person)"


def test_every_measure_requested_is_checked_not_only_the_first() -> None:
    details = {"surrender": {"person": "p", "warrant": "w"}, "freezing": {}}
    err = refusal(composed(["surrender", "freezing"], details))
    assert err.detail == "freezing: assets is required (measure_details.freezing.assets)"
    mla.check_composition(composed(["surrender", "freezing"], {**details, "freezing": {"assets": "MX-1"}}))


def test_a_request_without_measures_or_details_needs_only_its_language() -> None:
    mla.check_composition(composed(None, None))
    mla.check_composition(composed([], {}))


def test_a_request_whose_file_reference_does_not_add_up_is_refused_by_the_request_rule() -> None:
    """The sender before sealing and the recipient after opening refuse a request listing a large file
    whose chunk list does not cover its size (protocol/files.py), as they do an event's."""
    body = {"reference": "ITA-2026-7", "requesting": "ITA", "requested": "MEX", "kind": "mutual_legal_assistance",
            "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["evidence_taking"],
            "urgency": "routine", "summary": "s"}
    header = {"reference": "ITA-2026-7", "kind": "mutual_legal_assistance", "status": "submitted",
              "urgency": "routine", "deadline": None}
    env = SimpleNamespace(sender="ITA", recipients=("MEX",), thread=mla.thread_of("ITA", "ITA-2026-7"), header=header)
    ref = {"name": "ledger.pdf", "media_type": "application/pdf", "size": 10, "sha256": "a" * 64, "chunk_bytes": 4,
           "chunks": ["b" * 64] * 3}
    mla.request_rule(env, {**body, "files": [ref]})
    with pytest.raises(PolicyError) as caught:
        mla.request_rule(env, {**body, "files": [{**ref, "size": 20}]})
    assert (caught.value.reason, caught.value.detail) == (
        "file_ref_mismatch", "file 'ledger.pdf': 20 bytes in chunks of 4 are 5 chunks, not 3")


def test_a_lifecycle_rule_is_carried_by_mla_status_unless_it_names_its_message() -> None:
    """`_rule` builds the RULES table at import, before mutmut switches a mutant on: called here so its
    defaults (the message type, frozen sources) are checked where a mutant can reach them."""
    sources = {mla.State.RECEIVED, mla.State.ACKNOWLEDGED}
    rule = mla._rule("acknowledged", "acknowledge", sources, mla.State.ACKNOWLEDGED, mla.Role.REQUESTED)
    assert rule == mla.Rule("acknowledged", "acknowledge", frozenset(sources), mla.State.ACKNOWLEDGED,
                            mla.Role.REQUESTED, "mla.status")
    assert isinstance(rule.sources, frozenset)
    node = mla._rule("delivery_evidenced", "deliver", frozenset({mla.State.SUBMITTED}), mla.State.RECEIVED,
                     mla.Role.NODE, None)
    assert node == mla.Rule("delivery_evidenced", "deliver", frozenset({mla.State.SUBMITTED}), mla.State.RECEIVED,
                            mla.Role.NODE, None)
    reminder = mla._rule("reminded", "remind", set(), None, mla.Role.REQUESTING, "mla.response")
    assert (reminder.target, reminder.message_type, reminder.sources) == (None, "mla.response", frozenset())


# -- an answer's language (issue 17: answers carry their language) ---------------------------------

def test_an_answer_in_an_unknown_language_is_refused_naming_its_language_field() -> None:
    with pytest.raises(PolicyError) as caught:
        mla.check_answer({"event": "refuse", "note": "x", "language": "qq"})
    assert (caught.value.reason, caught.value.detail) == (
        "unknown_language", "language[0]: 'qq' is not an ISO 639-1 language code")


def test_an_answer_in_a_known_language_or_without_one_passes() -> None:
    assert mla.check_answer({"event": "refuse", "note": "Motivos", "language": "es"}) is None
    assert mla.check_answer({"event": "acknowledge"}) is None  # a node of the previous release states none


def test_an_event_carries_its_language_on_the_wire_and_only_as_a_two_letter_code() -> None:
    from protocol.errors import DecodeError
    from protocol.schema import validate

    body = {"reference": "R-1", "requesting": "MEX", "requested": "ITA", "event": "refuse",
            "grounds": ["other_treaty_ground"], "note": "n"}
    validate(mla.EVENT, {**body, "language": "fr"}, "bad_body")
    validate(mla.EVENT, body, "bad_body")
    for wrong in ("FR", "fra", "f", 7):
        with pytest.raises(DecodeError) as caught:
            validate(mla.EVENT, {**body, "language": wrong}, "bad_body")
        assert caught.value.reason == "bad_body" and caught.value.detail.startswith("$.language:")
