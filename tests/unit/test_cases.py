"""Case information rules: the schema (article 5 among them), handling codes, search keys, statistics."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import cases as rules
from protocol import envelope as wire
from protocol import policy
from protocol.errors import DecodeError, PolicyError
from protocol.ids import uuid7
from protocol.schema import validate

CASE = {
    "reference": "IDN-2026-0042",
    "title": "KM Harapan interception, Timor Sea",
    "offences": [{"article": "6.1.a", "aggravating": ["6.3.a"]}, {"article": "6.2.c"}],
    "evaluation": {"source": "B", "information": 2},
    "persons": [
        {"role": "organiser", "name": "José Álvarez", "aliases": ["El Capitán"], "date_of_birth": "1979-04-02",
         "nationalities": ["MEX"], "documents": [{"number": "G 1234 5678", "issuing_country": "MEX"}],
         "legal_basis": "Protocol art. 10(1); UNTOC art. 27"},
        {"role": "witness", "name": "Ahmad Karimi", "smuggled_migrant": True, "legal_basis": "Protocol art. 10(1)"},
    ],
    "events": [{"kind": "interception", "date": "2026-10-03", "country": "IDN", "maritime": {
        "vessel_name": "KM Harapan Jaya", "flag": "IDN", "imo": "9074729", "mmsi": "525123456",
        "position": {"lat": -10.25, "lon": 123.6}, "persons_on_board": 41, "deaths": 2, "missing": 1}}],
    "routes": [{"countries": ["IDN", "AUS"], "legs": [{"from": "IDN", "to": "AUS", "mode": "sea"}]}],
    "modus_operandi": ["wooden fishing vessel, crew paid per head"],
    "financial": {"flows": [{"kind": "payment", "amount": 4000, "currency": "USD"}]},
}


def test_a_complete_maritime_case_is_valid() -> None:
    validate(rules.CASE, CASE, "bad_body")


@pytest.mark.parametrize("role", rules.SUSPECT_ROLES)
def test_a_smuggled_migrant_is_never_a_suspect(role: str) -> None:
    case = copy.deepcopy(CASE)
    case["persons"][1]["role"] = role
    with pytest.raises(DecodeError) as info:
        validate(rules.CASE_SHARE, case, "bad_body")
    assert info.value.reason == "smuggled_migrant_as_suspect"
    assert "persons[1]" in info.value.detail


@pytest.mark.parametrize("role", ["victim", "witness"])
def test_a_smuggled_migrant_may_be_a_victim_or_witness(role: str) -> None:
    case = copy.deepcopy(CASE)
    case["persons"][1]["role"] = role
    validate(rules.CASE_SHARE, case, "bad_body")


@pytest.mark.parametrize(("path", "value"), [
    (("evaluation", "source"), "D"),
    (("evaluation", "information"), 5),
    (("offences", 0, "article"), "6.4"),
    (("events", 0, "maritime", "imo"), "9074728"),  # wrong check digit
    (("persons", 0, "nationalities", 0), "Mexico"),
])
def test_bad_values_are_refused_naming_the_field(path: tuple, value: object) -> None:
    case = copy.deepcopy(CASE)
    target = case
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(DecodeError) as info:
        validate(rules.CASE, case, "bad_body")
    assert info.value.reason == "bad_body"


def test_provenance_is_only_for_shares() -> None:
    case = {**CASE, "provenance": {"provider": "IDN", "reference": "IDN-1", "message_id": uuid7(1, bytes(10))}}
    validate(rules.CASE_SHARE, case, "bad_body")
    with pytest.raises(DecodeError):
        validate(rules.CASE, case, "bad_body")


def test_imo_check_digit() -> None:
    assert rules.imo_is_valid("9074729") and not rules.imo_is_valid("9074720") and not rules.imo_is_valid("907472")
    assert rules.normalise_imo("IMO 9074729") == "9074729"


def share_env(handling: dict, body: dict | None = None, sender: str = "IDN") -> wire.Envelope:
    return wire.build(message_id=uuid7(1, bytes(10)), type="note", sender=sender, recipients=["MEX"],
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), body={"text": "x"},
                      handling=handling)


def test_a_share_needs_a_retention_and_h3_its_condition() -> None:
    with pytest.raises(PolicyError) as info:
        rules.check_case_share(share_env({"code": "H2"}), CASE)
    assert info.value.reason == "retention_required"
    with pytest.raises(PolicyError) as info:
        rules.check_case_share(share_env({"code": "H3", "retention_days": 30}), CASE)
    assert info.value.reason == "condition_required"
    rules.check_case_share(share_env({"code": "H3", "retention_days": 30, "condition": "only for case X"}), CASE)
    assert policy.BODY_RULES["case.share"] is rules.check_case_share


def test_provenance_naming_the_sender_is_refused() -> None:
    body = {**CASE, "provenance": {"provider": "IDN", "reference": "R", "message_id": uuid7(1, bytes(10))}}
    with pytest.raises(PolicyError) as info:
        rules.check_case_share(share_env({"code": "H0", "retention_days": 1}), body)
    assert info.value.reason == "bad_provenance"


def test_h2_onward_transfer_needs_a_permission_naming_every_target() -> None:
    h2 = {"code": "H2", "retention_days": 30}
    with pytest.raises(PolicyError) as info:
        rules.check_onward_transfer(h2, ["FRA"], [])
    assert info.value.reason == "onward_transfer_not_permitted"
    with pytest.raises(PolicyError):
        rules.check_onward_transfer(h2, ["FRA", "ITA"], ["FRA"])
    rules.check_onward_transfer(h2, ["FRA"], ["FRA", "ITA"])
    for code in ("H0", "H1"):
        rules.check_onward_transfer({"code": code}, ["FRA"], [])


def test_handling_notices_show_h1_and_the_h3_condition() -> None:
    assert "judicial" in rules.handling_notices({"code": "H1"})[0]
    assert not rules.usable_in_judicial_proceedings({"code": "H1"})
    assert rules.usable_in_judicial_proceedings({"code": "H2"})
    assert rules.handling_notices({"code": "H3", "condition": "not to customs"}) == [
        "Provider's condition: not to customs"]


def test_onward_handling_keeps_code_and_condition_with_the_remaining_retention() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    got = rules.onward_handling({"code": "H3", "retention_days": 90, "condition": "c"}, now + timedelta(days=9.5), now)
    assert got == {"code": "H3", "retention_days": 10, "condition": "c"}
    assert rules.onward_handling({"code": "H0", "retention_days": 5}, now - timedelta(days=1), now)["retention_days"] == 1


def test_forwarded_permission_must_be_the_providers_for_this_resharer_and_target() -> None:
    perm = wire.build(message_id=uuid7(1, bytes(10)), type="case.permission", sender="IDN", recipients=["MEX"],
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(days=1),
                      body={"reference": "R1", "recipient": "MEX", "to": ["FRA"]})
    body = wire.decode_body(perm)
    provenance = {"provider": "IDN", "reference": "R1", "message_id": uuid7(2, bytes(10))}
    rules.check_forwarded_permission(perm, body, provenance, "MEX", "FRA")
    for resharer, me, prov in [("ITA", "FRA", provenance), ("MEX", "ESP", provenance),
                               ("MEX", "FRA", {**provenance, "reference": "R2"}),
                               ("MEX", "FRA", {**provenance, "provider": "ITA"})]:
        with pytest.raises(PolicyError) as info:
            rules.check_forwarded_permission(perm, body, prov, resharer, me)
        assert info.value.reason == "onward_transfer_not_permitted"


def test_a_permission_goes_to_its_recipient_alone_and_names_third_countries() -> None:
    def perm(recipients: list[str], to: list[str]) -> wire.Envelope:
        return wire.build(message_id=uuid7(1, bytes(10)), type="case.permission", sender="IDN",
                          recipients=recipients, created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(days=1),
                          body={"reference": "R1", "recipient": "MEX", "to": to})

    ok = perm(["MEX"], ["FRA"])
    rules.check_case_permission(ok, wire.decode_body(ok))
    for bad, reason in [(perm(["MEX", "ITA"], ["FRA"]), "bad_recipients"), (perm(["MEX"], ["IDN"]), "bad_permission")]:
        with pytest.raises(PolicyError) as info:
            rules.check_case_permission(bad, wire.decode_body(bad))
        assert info.value.reason == reason


def test_joint_investigation_messages_go_to_every_member_and_only_from_members() -> None:
    members = ["IDN", "ITA", "MEX"]
    assert rules.jit_recipients(members, "MEX") == ["IDN", "ITA"]
    rules.check_jit_message(members, "MEX", ["IDN", "ITA"])
    with pytest.raises(PolicyError) as info:
        rules.check_jit_message(members, "FRA", ["IDN", "ITA", "MEX"])
    assert info.value.reason == "not_a_jit_member"
    with pytest.raises(PolicyError) as info:
        rules.check_jit_message(members, "MEX", ["IDN"])
    assert info.value.reason == "jit_not_addressed_to_all"
    with pytest.raises(PolicyError):
        rules.jit_recipients(members, "FRA")


def test_adding_information_appends_lists_and_stays_valid() -> None:
    merged = rules.add_information(CASE, {"persons": [{"role": "financier", "name": "R. Wibowo",
                                                        "legal_basis": "art. 10"}],
                                          "financial": {"flows": [{"kind": "proceeds", "amount": 1, "currency": "IDR"}]},
                                          "evaluation": {"source": "A", "information": 1}})
    assert [p["name"] for p in merged["persons"]] == ["José Álvarez", "Ahmad Karimi", "R. Wibowo"]
    assert len(merged["financial"]["flows"]) == 2 and merged["evaluation"]["source"] == "A"
    with pytest.raises(DecodeError) as info:
        rules.add_information(CASE, {"persons": [{"role": "suspected", "name": "X", "smuggled_migrant": True,
                                                  "legal_basis": "b"}]})
    assert info.value.reason == "smuggled_migrant_as_suspect"


@pytest.mark.parametrize(("written", "typed"), [
    ("José Álvarez", "JOSE ALVAREZ"),
    ("Álvarez-López, José", "jose alvarez lopez"),
    ("Jürgen Weiß", "JURGEN WEISS"),
    ("Łukasz Søren Ærø", "lukasz soren aero"),
    ("Đorđe O’Brien", "DORDE OBRIEN"),
    ("Дмитрий Щукин", "DMITRII SHCHUKIN"),
    ("Юлия Ёлкина", "IULIIA ELKINA"),
    ("Σωκράτης Παπαδόπουλος", "SOKRATIS PAPADOPOULOS"),
    ("ＪＯＳＥ", "jose"),  # full-width forms
])
def test_names_fold_to_one_search_key(written: str, typed: str) -> None:
    assert rules.name_tokens(written) == rules.name_tokens(typed)


@given(st.text(max_size=60))
def test_folding_is_idempotent_and_ascii(text: str) -> None:
    key = rules.fold_name(text)
    assert key.isascii() and rules.fold_name(key) == key


def test_statistics_count_by_period_provider_and_route_and_count_a_case_once() -> None:
    later = {**CASE, "reference": "IDN-2", "events": [{"kind": "interception", "date": "2026-10-20",
                                                        "maritime": {"persons_on_board": 10, "deaths": 1}}]}
    other = {"reference": "ITA-9", "offences": [{"article": "6.1.a"}], "evaluation": {"source": "X", "information": 4}}
    rows = rules.case_statistics([("IDN", CASE, "2026-11-01T00:00:00Z"), ("IDN", CASE, "2026-11-02T00:00:00Z"),
                                  ("IDN", later, "2026-11-01T00:00:00Z"), ("ITA", other, "2026-09-05T00:00:00Z")])
    assert rows == [
        {"period": "2026-09", "country": "ITA", "route": "unknown", "cases": 1, "persons": 0, "suspects": 0,
         "interceptions": 0, "persons_on_board": 0, "deaths": 0, "missing": 0},
        {"period": "2026-10", "country": "IDN", "route": "IDN>AUS", "cases": 2, "persons": 4, "suspects": 2,
         "interceptions": 2, "persons_on_board": 51, "deaths": 3, "missing": 1},
    ]


# -- what each handling refusal says, and the rules' edge cases ---------------------------------------


def _refused(call, *args) -> PolicyError:  # noqa: ANN001, ANN002
    with pytest.raises(PolicyError) as caught:
        call(*args)
    return caught.value


def test_each_share_refusal_says_what_to_add() -> None:
    assert _refused(rules.check_case_share, share_env({"code": "H2"}), CASE).detail == (
        "case.share needs handling.retention_days")
    assert _refused(rules.check_case_share, share_env({"code": "H3", "retention_days": 3}), CASE).detail == (
        "H3 needs its condition in handling.condition")
    body = {**CASE, "provenance": {"provider": "IDN", "reference": "R", "message_id": uuid7(1, bytes(10))}}
    assert _refused(rules.check_case_share, share_env({"code": "H0", "retention_days": 1}), body).detail == (
        "provenance names the sender itself: that is a plain share")
    assert _refused(rules.check_onward_transfer, {"code": "H2"}, ["ITA", "FRA", "MEX"], ["MEX"]).detail == (
        "H2: no permission from the provider on file for FRA, ITA")


def test_each_permission_refusal_says_which_rule() -> None:
    def perm(recipients: list[str], to: list[str], reference: str = "R1", sender: str = "IDN") -> wire.Envelope:
        return wire.build(message_id=uuid7(1, bytes(10)), type="case.permission", sender=sender,
                          recipients=recipients, created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(days=1),
                          body={"reference": reference, "recipient": "MEX", "to": to})

    bad = perm(["MEX", "ITA"], ["FRA"])
    assert _refused(rules.check_case_permission, bad, wire.decode_body(bad)).detail == (
        "a case.permission goes to the country it permits, alone")
    bad = perm(["MEX"], ["MEX"])
    assert _refused(rules.check_case_permission, bad, wire.decode_body(bad)).detail == (
        "a permission names third countries, not the provider or recipient")
    ok = perm(["MEX"], ["FRA"])
    provenance = {"provider": "IDN", "reference": "R1", "message_id": uuid7(2, bytes(10))}
    for prov, resharer, me, detail in [
        ({**provenance, "provider": "ITA"}, "MEX", "FRA", "the permission is not the provider's"),
        ({**provenance, "reference": "R2"}, "MEX", "FRA", "the permission is for another case"),
        (provenance, "MEX", "ESP", "the permission does not let MEX pass it to ESP"),
    ]:
        assert _refused(rules.check_forwarded_permission, ok, wire.decode_body(ok), prov, resharer, me).detail == detail
    note = wire.build(message_id=uuid7(1, bytes(10)), type="note", sender="IDN", recipients=["MEX"],
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(days=1), body={"text": "x"})
    body = {"reference": "R1", "recipient": "MEX", "to": ["FRA"]}
    assert _refused(rules.check_forwarded_permission, note, body, provenance, "MEX", "FRA").detail == (
        "the permission is not the provider's")


def test_each_joint_investigation_refusal_names_the_country() -> None:
    members = ["IDN", "ITA", "MEX"]
    err = _refused(rules.jit_recipients, members, "FRA")
    assert (err.reason, err.detail) == ("not_a_jit_member", "FRA is not a member of this joint investigation")
    err = _refused(rules.check_jit_message, members, "FRA", members)
    assert err.detail == "FRA is not a member of this joint investigation"
    assert _refused(rules.check_jit_message, members, "MEX", ["IDN"]).detail == (
        "a joint-investigation message goes to every member")
    message_id = str(uuid7(1, bytes(10)))
    jit = wire.build(message_id=message_id, type="case.jit", sender="MEX", recipients=["IDN"],
                     created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), sealed="x.y", thread="t-1")
    assert _refused(rules.check_jit_opening, jit).detail == (
        f"a case.jit opens the thread jit:{message_id} (its own id), not 't-1'")


def test_retention_runs_forward_from_the_share() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.retention_until(created, 30) == datetime(2026, 1, 31, tzinfo=UTC)


def test_adding_information_starts_lists_and_financial_parts_a_case_does_not_have_yet() -> None:
    bare = {k: v for k, v in CASE.items() if k not in ("modus_operandi", "financial")}
    merged = rules.add_information(bare, {"modus_operandi": ["night crossings"],
                                          "financial": {"flows": [{"kind": "payment", "amount": 9, "currency": "EUR"}],
                                                        "proceeds_estimate": {"amount": 5, "currency": "EUR"}}})
    assert merged["modus_operandi"] == ["night crossings"]
    assert merged["financial"] == {"flows": [{"kind": "payment", "amount": 9, "currency": "EUR"}],
                                   "proceeds_estimate": {"amount": 5, "currency": "EUR"}}
    with pytest.raises(DecodeError) as info:
        rules.add_information(CASE, {"title": 7})
    assert info.value.reason == "bad_body" and info.value.detail.startswith("$.title")


def test_a_folded_name_is_its_plain_lower_case_letters() -> None:
    assert rules.fold_name("José ÁLVAREZ-López") == "jose alvarez lopez"


def test_statistics_count_suspects_by_role_and_missing_sea_figures_as_zero() -> None:
    case = {"reference": "ITA-1", "offences": [{"article": "6.1.a"}], "evaluation": {"source": "X", "information": 4},
            "persons": [{"role": "facilitator", "name": "A", "legal_basis": "b"},
                        {"role": "convicted", "name": "B", "legal_basis": "b"},
                        {"role": "victim", "name": "C", "legal_basis": "b"}],
            "events": [{"kind": "landing", "date": "2026-10-01"},
                       {"kind": "interception", "date": "2026-10-02", "maritime": {"missing": 3}}]}
    [row] = rules.case_statistics([("ITA", case, "2026-11-01T00:00:00Z")])
    assert (row["persons"], row["suspects"], row["interceptions"]) == (3, 2, 1)
    assert (row["persons_on_board"], row["deaths"], row["missing"]) == (0, 0, 3)


def test_an_event_without_maritime_details_is_valid_and_a_bad_imo_says_where() -> None:
    ashore = {**CASE, "events": [{"kind": "arrest", "date": "2026-10-05", "country": "IDN"}]}
    rules.CASE.check(ashore, "$", "bad_body")
    bad = copy.deepcopy(CASE)
    bad["events"][0]["maritime"]["imo"] = "9074720"
    with pytest.raises(DecodeError) as info:
        rules.CASE.check(bad, "$", "bad_body")
    assert (info.value.reason, info.value.detail) == ("bad_body", "$.events[0].maritime.imo: check digit does not match")
