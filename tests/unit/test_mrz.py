"""protocol/mrz.py against ICAO Doc 9303's own specimen zones (parts 4, 5 and 6) and their faults."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import mrz
from protocol.errors import ProtocolError

# Doc 9303 part 4 (TD3 passport), part 5 (TD1 card, and its long-document-number example), part 6 (TD2).
TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<",
       "7408122F1204159UTO<<<<<<<<<<<6",
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
TD1_LONG_NUMBER = ("I<UTOD23145890<7349<<<<<<<<<<<",
                   "3407127M9507122UTO<<<<<<<<<<<2",
                   "STEVENSON<<PETER<JOHN<<<<<<<<<")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
       "D231458907UTO7408122F1204159<<<<<<<6")


def _with(lines: tuple[str, ...], line: int, pos: int, char: str) -> tuple[str, ...]:
    out = list(lines)
    out[line] = out[line][:pos] + char + out[line][pos + 1:]
    return tuple(out)


def _problems(lines) -> list[tuple[str, str]]:  # noqa: ANN001
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(lines)
    return [(p.field, p.reason) for p in caught.value.problems]


def test_check_digit_follows_doc_9303_part_3_worked_example() -> None:
    assert mrz.check_digit("520727") == "3"  # part 3 4.9.2
    assert mrz.check_digit("L898902C3") == "6"
    assert mrz.check_digit("<<<<") == "0"


def test_td3_specimen_reads_every_field() -> None:
    zone = mrz.parse("\n".join(TD3))
    assert (zone.format, zone.document_code, zone.issuing_state, zone.document_number) == ("TD3", "P", "UTO", "L898902C3")
    assert (zone.nationality, zone.sex, zone.optional_data) == ("UTO", "F", ("ZE184226B",))
    assert (zone.primary_identifier, zone.secondary_identifier) == ("ERIKSSON", ("ANNA", "MARIA"))
    assert zone.birth_date.partial(2026) == "1974-08-12"
    assert zone.expiry_date.partial(2026, future=True) == "2012-04-15"


def test_td1_specimen_reads_every_field() -> None:
    zone = mrz.parse(list(TD1))
    assert (zone.format, zone.document_code, zone.document_number, zone.nationality) == ("TD1", "I", "D23145890", "UTO")
    assert (zone.primary_identifier, zone.secondary_identifier) == ("ERIKSSON", ("ANNA", "MARIA"))
    assert zone.optional_data == ("", "")


def test_td1_long_document_number_continues_in_the_optional_data() -> None:
    zone = mrz.parse(TD1_LONG_NUMBER)
    assert zone.document_number == "D23145890734"
    assert zone.optional_data == ("", "")
    assert zone.birth_date.partial(2026) == "1934-07-12"
    assert zone.expiry_date.partial(2026, future=True) == "1995-07-12"
    assert (zone.sex, zone.primary_identifier, zone.secondary_identifier) == ("M", "STEVENSON", ("PETER", "JOHN"))


def test_td1_long_number_check_digit_covers_the_whole_number() -> None:
    assert _problems(_with(TD1_LONG_NUMBER, 0, 18, "8")) == [("document_number", "mrz_check_digit"),
                                                            ("composite", "mrz_check_digit")]


def test_td1_overflow_marker_without_overflow_is_named() -> None:
    zone = _with(TD1, 0, 14, "<")
    assert ("document_number", "mrz_bad_field") in _problems(zone)


def test_td2_specimen_reads_every_field() -> None:
    zone = mrz.parse(TD2)
    assert (zone.format, zone.document_number, zone.sex) == ("TD2", "D23145890", "F")
    assert (zone.primary_identifier, zone.secondary_identifier) == ("ERIKSSON", ("ANNA", "MARIA"))


def test_td2_long_document_number_continues_in_the_optional_data() -> None:
    number = "D23145890734"
    body = number[:9] + "<" + "UTO" + "3407127" + "M" + "9507122"
    optional = number[9:] + mrz.check_digit(number) + "<<<"
    line = body + optional
    line += mrz.check_digit(line[0:10] + line[13:20] + line[21:35])
    zone = mrz.parse(("I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<", line))
    assert zone.document_number == number
    assert zone.optional_data == ("",)


@pytest.mark.parametrize(("lines", "line", "pos", "field"), [
    (TD3, 1, 9, "document_number"), (TD3, 1, 19, "birth_date"), (TD3, 1, 27, "expiry_date"),
    (TD3, 1, 42, "personal_number"),
    (TD1, 0, 14, "document_number"), (TD1, 1, 6, "birth_date"), (TD1, 1, 14, "expiry_date"),
    (TD2, 1, 9, "document_number"), (TD2, 1, 19, "birth_date"), (TD2, 1, 27, "expiry_date"),
])
def test_each_bad_check_digit_is_named_with_the_composite(lines, line, pos, field) -> None:  # noqa: ANN001
    wrong = str((int(lines[line][pos]) + 1) % 10)
    assert _problems(_with(lines, line, pos, wrong)) == [(field, "mrz_check_digit"), ("composite", "mrz_check_digit")]


@pytest.mark.parametrize(("lines", "line", "pos"), [(TD3, 1, 43), (TD1, 1, 29), (TD2, 1, 35)])
def test_bad_composite_alone_is_named(lines, line, pos) -> None:  # noqa: ANN001
    wrong = str((int(lines[line][pos]) + 1) % 10)
    assert _problems(_with(lines, line, pos, wrong)) == [("composite", "mrz_check_digit")]


def test_every_fault_is_listed_in_one_error() -> None:
    zone = _with(_with(_with(TD3, 1, 9, "5"), 1, 19, "3"), 1, 27, "0")
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(zone)
    assert [p.field for p in caught.value.problems] == ["document_number", "birth_date", "expiry_date", "composite"]
    assert caught.value.reason == "mrz_check_digit"
    assert isinstance(caught.value, ProtocolError)


def test_a_changed_data_character_is_caught_by_its_check_digit() -> None:
    assert _problems(_with(TD3, 1, 0, "K")) == [("document_number", "mrz_check_digit"), ("composite", "mrz_check_digit")]


def test_personal_number_all_fillers_may_have_a_filler_check_digit() -> None:
    line = TD3[1][:28] + "<" * 14 + "<"
    line += mrz.check_digit(line[0:10] + line[13:20] + line[21:43])
    assert mrz.parse((TD3[0], line)).optional_data == ("",)


def test_unknown_birth_day_and_month_are_partial_dates() -> None:
    line = TD3[1][:13] + "74<<<<" + mrz.check_digit("74<<<<") + TD3[1][20:43]
    line += mrz.check_digit(line[0:10] + line[13:20] + line[21:43])
    zone = mrz.parse((TD3[0], line))
    assert zone.birth_date == mrz.MrzDate(74, None, None)
    assert zone.birth_date.partial(2026) == "1974"


@pytest.mark.parametrize(("dob", "why"), [("741312", "month 13"), ("740231", "day 31"), ("7A0812", "YYMMDD"),
                                          ("<<0812", "trailing")])
def test_impossible_birth_date_is_named(dob: str, why: str) -> None:
    line = TD3[1][:13] + dob + mrz.check_digit(dob) + TD3[1][20:43]
    line += mrz.check_digit(line[0:10] + line[13:20] + line[21:43])
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse((TD3[0], line))
    assert [(p.field, p.reason) for p in caught.value.problems] == [("birth_date", "mrz_bad_date")]
    assert why in caught.value.problems[0].detail


@pytest.mark.parametrize(("text", "reason"), [
    ("", "mrz_layout"), (TD3[0], "mrz_layout"), ((TD3[0], TD3[1][:-1]), "mrz_layout"),
    ((TD3[0], TD3[1][:-1] + "é"), "mrz_bad_character"),
    (("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", TD3[1]), "mrz_layout"),
    ("X" * 1000, "mrz_layout"), (12, "mrz_layout"), ([1, 2], "mrz_layout"),
])
def test_odd_input_is_a_typed_error(text, reason: str) -> None:  # noqa: ANN001
    with pytest.raises(mrz.MrzError) as caught:
        mrz.parse(text)
    assert caught.value.reason == reason


def test_bad_sex_and_state_are_named() -> None:
    assert _problems(_with(_with(TD3, 1, 20, "Q"), 1, 10, "1")) == [
        ("nationality", "mrz_bad_field"), ("sex", "mrz_bad_field")]  # neither is under the composite


def test_zone_pasted_as_one_line_or_lower_case_with_blanks_is_read() -> None:
    assert mrz.parse("".join(TD1)).document_number == "D23145890"
    assert mrz.parse("  " + TD3[0].lower() + " \r\n\n " + TD3[1] + "\n").primary_identifier == "ERIKSSON"


def test_primary_identifier_of_several_parts_and_no_given_name() -> None:
    line1 = "P<UTOVAN<DER<BERG<<<<<<<<<<<<<<<<<<<<<<<<<<<"
    zone = mrz.parse((line1, TD3[1]))
    assert (zone.primary_identifier, zone.secondary_identifier) == ("VAN DER BERG", ())


def test_centuries_against_the_reference_year() -> None:
    assert mrz.MrzDate(26, 1, 1).partial(2026) == "2026-01-01"
    assert mrz.MrzDate(27, 1, 1).partial(2026) == "1927-01-01"
    assert mrz.MrzDate(40, 1, None).partial(2026, future=True) == "2040-01"
    assert mrz.MrzDate(None, None, None).partial(2026) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCXYZ0123456789<\n é", max_size=120))
def test_any_text_reads_or_is_refused_with_a_reason(text: str) -> None:
    try:
        mrz.parse(text)
    except mrz.MrzError as error:
        assert error.problems and error.reason
