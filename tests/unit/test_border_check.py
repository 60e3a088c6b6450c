"""The border check's parts without a broker: the request reader (zones, every bad digit named),
the database index keys (no match lost), the replica's version merge, the carrier's view, and the
person.hit rule."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select

from nodes.national import store as node_store
from nodes.national.features.person import store
from nodes.national.features.person.check import BadBorderCheck, BorderQuery, CheckOutcome, read_query
from nodes.national.features.person.names import NameIndex, PersonName, date_of_birth_agreement, index_keys
from protocol.errors import PolicyError
from protocol.mrz import check_digit
from protocol.person import hits_go_to_the_issuer, name_entry, person_alert_kept_until
from tests.bench.name_set import build

# ICAO Doc 9303 part 4 specimen (TD3)
SPECIMEN = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


def _with(text: str, line: int, position: int, char: str) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:position] + char + lines[line][position + 1:]
    return "\n".join(lines)


def test_a_zone_gives_the_document_name_and_birth_date() -> None:
    query = read_query({"mrz": SPECIMEN, "point": "gate 4"}, 2026)
    assert query.document == ("UTO", "passport", "L898902C3")
    assert query.name == "ERIKSSON ANNA MARIA" and query.date_of_birth == "1974-08-12"


def test_every_bad_check_digit_of_a_zone_is_named() -> None:
    bad = _with(_with(SPECIMEN, 1, 9, "5"), 1, 19, "3")  # document number's and birth date's digits
    with pytest.raises(BadBorderCheck) as refused:
        read_query({"mrz": bad}, 2026)
    assert refused.value.reason == "mrz_check_digit"
    assert [p["field"] for p in refused.value.as_json()["problems"]] == ["document_number", "birth_date",
                                                                         "composite"]


def test_a_german_zone_is_checked_against_DEU_alerts_and_a_typed_name_wins() -> None:
    number = "C01X00T47"
    line1 = "P<D<<MUSTERMANN<<ERIKA".ljust(44, "<")
    line2 = f"{number}{check_digit(number)}D<<6408125F2702283{'<' * 15}"
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
    query = read_query({"mrz": f"{line1}\n{line2}", "name": "Эрика Мустерман"}, 2026)
    assert query.document == ("DEU", "passport", number) and query.name == "Эрика Мустерман"


@pytest.mark.parametrize("data, reason", [
    ({"mrz": SPECIMEN, "document": {"country": "MEX", "type": "passport", "number": "1"}}, "bad_request"),
    ({}, "bad_request"),
    ({"mrz": SPECIMEN, "traveller": "x"}, "unknown_field"),
    ({"mrz": SPECIMEN, "check": "curious"}, "bad_request"),
    ({"mrz": SPECIMEN, "date_of_birth": "12/08/1974"}, "bad_request"),
    ({"mrz": "P<UTO" + "<" * 39}, "mrz_layout"),
    ({"mrz": 17}, "bad_mrz"),
    ({"document": {"country": "mex", "type": "passport", "number": "1"}}, "bad_request"),
])
def test_bad_requests_are_refused_with_a_reason(data: dict, reason: str) -> None:
    with pytest.raises(BadBorderCheck) as refused:
        read_query(data, 2026)
    assert refused.value.reason == reason


def test_the_database_keys_select_what_the_in_memory_index_selects() -> None:
    """On the labelled set's true pairs: two names share a database key exactly when NameIndex
    (whose recall the name bench measures) puts one among the other's candidates."""
    names = build(distinct=100, pairs_per_culture=60)
    agreed = 0
    for query, q_lang, alert, a_lang in names.pairs:
        q, a = PersonName.of(query, q_lang or None), PersonName.of(alert, a_lang or None)
        index = NameIndex()
        index.add("a", a)
        assert bool(index_keys(q) & index_keys(a)) == ("a" in index.candidates(q)), (query, alert)
        agreed += 1
    assert agreed == len(names.pairs) == 300


def _body(action: str = "create", reference: str = "R1", **subject: object) -> dict:
    if action == "withdraw":
        return {"action": "withdraw", "issuer": "MEX", "national_reference": reference, "reported": "2026-11-20"}
    return {"action": action, "issuer": "MEX", "national_reference": reference, "reported": "2026-11-20",
            "subject": {"family_name": name_entry("Haddad"), "given_names": name_entry("Mohammed"),
                        "date_of_birth": "1980-05-17", **subject},
            "basis": "suspected", "legal_basis": "x", "handling_code": "H2", "recipients": "all"}


@pytest.fixture
def engine():  # noqa: ANN201
    engine = create_engine("sqlite://")
    store.metadata.create_all(engine)
    node_store.metadata.create_all(engine)
    return engine


def _rows(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(store.person_alerts)).all()


def test_versions_merge_by_age_and_a_withdrawal_leaves_a_tombstone_without_person_data(engine) -> None:  # noqa: ANN001
    t1, t2, t3 = "2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"
    with engine.begin() as conn:
        assert store.apply_alert(conn, _body(), created=t2, message_id="m2")
        assert not store.apply_alert(conn, _body("update", nationality="LBY"), created=t1, message_id="m1")
    [row] = _rows(engine)
    assert row.message_id == "m2" and "LBY" not in row.record
    with engine.begin() as conn:
        assert store.apply_alert(conn, _body("withdraw"), created=t3, message_id="m3")
        assert not store.apply_alert(conn, _body(), created=t1, message_id="m0")  # late, older: stays withdrawn
    [row] = _rows(engine)
    assert row.withdrawn and row.record is None and row.message_id == "m3"
    with engine.connect() as conn:
        assert conn.execute(select(store.person_alert_keys)).all() == []


def _stored(engine, message_id: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(node_store.messages.insert().values(
            message_id=message_id, direction="in", type="person.alert", sender="MEX", recipients="[]",
            created="2026-11-20T10:00:00Z", digest="0" * 64, raw=b"{}", stored_at="2026-11-20T10:00:00Z"))


def _stored_ids(engine) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return set(conn.execute(select(node_store.messages.c.message_id)).scalars())


def test_a_withdrawal_erases_every_stored_version_and_a_later_older_one_at_once(engine) -> None:  # noqa: ANN001
    for mid, created, action in (("m1", "T10", "create"), ("m2", "T11", "update")):
        _stored(engine, mid)
        with engine.begin() as conn:
            store.apply_alert(conn, _body(action), created=f"2026-11-20{created}:00:00Z", message_id=mid)
    _stored(engine, "m3")
    with engine.begin() as conn:
        store.apply_alert(conn, _body("withdraw"), created="2026-11-20T12:00:00Z", message_id="m3")
        assert node_store.take_deletion_mark(conn)
    assert _stored_ids(engine) == {"m3"}  # the withdrawal itself carries no person data
    _stored(engine, "m0")  # a create older than the withdrawal, delivered late
    with engine.begin() as conn:
        assert not store.apply_alert(conn, _body(), created="2026-11-20T09:00:00Z", message_id="m0")
        assert node_store.take_deletion_mark(conn)
    assert _stored_ids(engine) == {"m3"}


def test_candidates_are_found_by_name_keys_and_birth_date_and_drop_out_after_review(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        store.apply_alert(conn, _body(), created="2026-11-20T10:00:00Z", message_id="m1")
        store.apply_alert(conn, _body(reference="R2", date_of_birth="1990"), created="2026-11-20T10:00:00Z",
                          message_id="m2")
    reader = store.CandidateReader(engine, limit=10)
    keys = index_keys(PersonName.of("Muhammad Hadad"))
    found, more = reader.candidates(keys, "1980-05-17", "2026-12-01")
    assert [json.loads(c.record_json)["national_reference"] for c in found] == ["R1"] and not more
    found, _ = reader.candidates(keys, None, "2026-12-01")
    assert {c.record["national_reference"] for c in found} == {"R1", "R2"}
    assert [c.record["national_reference"] for c in reader.candidates(keys, "1980", "2026-12-01")[0]] == ["R1"]
    assert reader.candidates(keys, "1980-06", "2026-12-01")[0] == []
    assert reader.candidates(keys, "1980-05-17", "2029-11-21")[0] == []  # past the review date (3 years)
    assert store.purge_expired(engine, "2029-11-21") == 2 and _rows(engine) == []
    reader.close()


def test_a_review_date_is_bounded_from_the_message_date_whatever_reported_says() -> None:
    body = _body()
    assert person_alert_kept_until("2026-11-21T00:00:00Z", body) == "2029-11-20"
    body["reported"], body["review_date"] = "2099-01-01", "2103-01-01"
    assert person_alert_kept_until("2026-11-21T00:00:00Z", body) == "2031-11-21"


def test_a_carrier_sees_hit_and_whom_to_call_only() -> None:
    query = BorderQuery(None, "X", None, "carrier", "")
    record = _body()
    match = SimpleNamespace(as_json=lambda: {"alert": record})
    outcome = CheckOutcome("BC-1", query, None, [match])
    assert set(outcome.for_carrier("ITA")) == {"reference", "hit", "call"}
    assert "BC-1" in outcome.for_carrier("ITA")["call"]
    assert CheckOutcome("BC-2", query, None).for_carrier("ITA") == {"reference": "BC-2", "hit": False}


def test_a_person_hit_goes_to_the_issuer_alone() -> None:
    body = {"issuer": "MEX"}
    hits_go_to_the_issuer(SimpleNamespace(recipients=("MEX",)), body)
    for recipients in (("ITA",), ("MEX", "ITA"), ("*",)):
        with pytest.raises(PolicyError) as refused:
            hits_go_to_the_issuer(SimpleNamespace(recipients=recipients), body)
        assert refused.value.reason == "hit_not_to_issuer"


def test_only_the_person_alert_declares_personal_data_in_clear() -> None:
    """The read path journals a clear body of these types; every other clear type stays as it was."""
    from protocol.catalog import REGISTRY

    assert {name for name, t in REGISTRY.items() if t.personal_data} == {"person.alert"}
    assert not REGISTRY["person.alert"].sealed and REGISTRY["person.alert"].broadcast
    assert not REGISTRY["person.hit"].personal_data and not REGISTRY["person.hit"].broadcast


@pytest.mark.parametrize("traveller", [None, "1980", "1980-05", "1980-05-17", "1981", "1980-06", "1980-05-18"])
def test_the_birth_date_probes_select_exactly_the_dates_that_can_agree(traveller: str | None) -> None:
    """What the index reads for a traveller's birth date is what names.date_of_birth_agreement does
    not call `differs`."""
    alert_dates = ["", "1980", "1981", "1980-05", "1980-06", "1980-05-17", "1980-05-18", "1979-12-31", "1980-11-05"]
    probes = store.birth_date_probes(traveller)

    def selected(date: str) -> bool:
        if probes is None:
            return True
        exact, prefix = probes
        return date in exact or (prefix is not None and prefix < date < prefix + "~")

    for date in alert_dates:
        assert selected(date) == (date_of_birth_agreement(traveller, date or None) != "differs"), (traveller, date)
